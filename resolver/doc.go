// Package resolver finds the application inference profile ARN for a set
// of tag filters — tenant=acme, app=claims_chatbot — through the Resource
// Groups Tagging API, and caches the answer. It uses the AWS SDK for Go's
// tagging client, so it works the same against Amazon Bedrock in AWS and
// against Tollgate.
//
// A gateway resolves a profile on every request, and GetResources is
// throttled, so a Resolver keeps a TTL cache in front of it:
//
//   - A cached answer is returned without allocating or locking; build each
//     Query once with NewQuery and reuse it.
//   - Concurrent misses for one query share one upstream call.
//   - Shortly before an answer expires (RefreshAhead), the next lookup
//     starts a background refresh, so hot queries never block on the
//     upstream. A query not looked up during that window is fetched again
//     on its first lookup after expiry: a tag change is seen within one
//     TTL.
//   - When the upstream fails or throttles, the last answer is served
//     (marked stale) for up to MaxStale past its expiry while refreshes
//     are retried in the background, spaced by a growing delay; beyond
//     that bound the upstream error is returned.
//   - ThrottledException (the Tagging API's name) and ThrottlingException
//     are retried with exponential backoff and full jitter.
//   - "No match" (ErrNoMatch) and "several profiles match"
//     (*AmbiguousError) are cached too, for the shorter NegativeTTL. A
//     TieBreak turns ambiguity into an answer.
//   - Warm pages through every profile once, refreshes every query already
//     cached from that listing, and answers new queries from it until it is
//     due for refresh (TTL less RefreshAhead).
//   - A StaticMap (a YAML file of tag values -> ARN) can be the primary
//     source, with the Tagging API behind it, or the fallback when the
//     upstream is down.
//   - Snapshot and Restore persist the cache, so a process that restarts
//     while the upstream is down still answers (Result.Source "snapshot").
//
// Answers are consistent: each query's cached answer is one immutable
// value replaced atomically, so a reader sees either the old or the new
// ARN, never a mix. Stats reports hits, misses, refreshes, stale answers
// and upstream errors.
//
// Create the tagging client with the SDK's retries turned down
// (RetryMaxAttempts 1) so that the Resolver's backoff is the one that
// applies; the SDK's own retries would multiply the attempts.
package resolver
