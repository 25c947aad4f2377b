// Package anomaly is Tollgate's cost anomaly detection, after AWS Cost
// Anomaly Detection: monitors that say which spend to watch (all of it,
// each linked account, each value of a cost-allocation tag, or up to ten
// values in aggregate), alert subscriptions with impact thresholds and a
// frequency, and the anomalies found, with their score, impact and root
// causes (profile, model, region, principal, usage type).
//
// The Detector judges hourly spend series; it learns hour-of-day and
// day-of-week seasonality and trend, is robust to past outliers, adopts
// level shifts, and derives each value's threshold from a target
// false-positive rate rather than from anything set by hand. The Runner
// runs it continuously over the ledger's rollups: every monitor at each
// hour boundary, and the running hour every few minutes. The Service
// holds the rules of the API operations. Amounts are exact nano-dollar
// sums; only the detector's statistics use floating point.
//
// The package knows nothing of HTTP or SQL: stores implement Store, the
// ledger's rollups arrive through Source, and alerts leave through
// Notifier.
package anomaly
