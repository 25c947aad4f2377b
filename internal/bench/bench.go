// Package bench is the engine of `tollgate bench` (the command, its flags
// and help are internal/cli's).
//
// Its side-by-side harness (RunHarness) starts, each as a process of its
// own in a temporary directory it deletes, a zero-latency
// OpenAI-compatible upstream (ServeUpstream), a Tollgate per provider and
// optionally another gateway, then measures each at fixed open-loop rates
// with the CPU per call of every process serving it, read from /proc.
// Its load generator (Run) drives a running Tollgate on this machine
// (loopback only) with SigV4-signed Converse calls, optionally beside a
// bare Go handler that returns the same bytes. Both measure latency from
// each request's intended start time, so a late send counts against the
// target. The gateway benchmarks of cmd/tollgate reuse its signer, client
// and bare handler.
package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
)

// Limits that keep one `tollgate bench` bounded in count and time.
const (
	// benchMaxRate is above what a 2-core machine's bare upstream
	// answers (about 20,000/s), so its saturation can be found.
	benchMaxRate = 40_000
	// benchMaxCalls bounds the calls of one fixed-rate run (rate ×
	// duration), whose latencies are kept: 24 bytes each.
	benchMaxCalls     = 12_000_000
	benchMaxDuration  = 10 * time.Minute
	benchReqTimeout   = 10 * time.Second
	benchLateAfter    = 5 * time.Millisecond // a send this far behind schedule counts as late
	benchProfileName  = "bench"
	benchProfileToken = "tollgate-bench"
	benchSourceModel  = "anthropic.claude-3-haiku-20240307-v1:0"
)

// benchPrompt is the user message of every benchmark request: a short
// chat turn, so the simulator's answer is a few hundred bytes.
const benchPrompt = "Summarise the claim notes for policy 4711 and flag missing documents."

// Options configures a load run.
type Options struct {
	Endpoint    string        // Tollgate's base URL; must be a loopback address
	Credentials string        // AWS shared credentials file
	Profile     string        // section of the credentials file
	Region      string        // region requests are signed for
	Model       string        // modelId to call; "" = the "bench" application profile
	Rates       []int         // requests per second, one run each
	Duration    time.Duration // measured time per rate and target
	Warmup      time.Duration // unmeasured time at the same rate before each run
	Bare        bool          // also measure a bare Go handler returning the same bytes
	// Yes sends the load even when a provider other than the simulator
	// serves Model: without it Run refuses (IsRealProvider).
	Yes bool
}

// Report is the result of a load run; --json prints it.
type Report struct {
	Endpoint   string    `json:"endpoint"`
	BareURL    string    `json:"bareURL,omitempty"`
	Model      string    `json:"model"`
	BodyBytes  int       `json:"responseBytes"`
	Duration   string    `json:"duration"`
	Warmup     string    `json:"warmup"`
	NumCPU     int       `json:"numCPU"`
	GoVersion  string    `json:"goVersion"`
	StartedAt  time.Time `json:"startedAt"`
	Runs       []RateRun `json:"runs"`
	LateAfterM float64   `json:"lateAfterMs"`
}

// RateRun is one rate: Tollgate, and the bare handler when measured.
type RateRun struct {
	Rate     int    `json:"rate"`
	Tollgate Stats  `json:"tollgate"`
	Bare     *Stats `json:"bare,omitempty"`
	// P99OverheadMs is Tollgate's p99 minus the bare handler's p99, both
	// measured from the intended start time.
	P99OverheadMs *float64 `json:"p99OverheadMs,omitempty"`
	// P50OverheadMs is the same at the median.
	P50OverheadMs *float64 `json:"p50OverheadMs,omitempty"`
}

// Stats summarises one fixed-rate run against one target. Latencies
// are in milliseconds, measured from each request's intended start time
// (so a late send counts against the target, as coordinated omission
// demands); ServiceP99Ms is measured from the actual send instead.
type Stats struct {
	Scheduled    int     `json:"scheduled"`
	Completed    int     `json:"completed"` // answered 200 and read to the end
	Errors       int     `json:"errors"`
	Dropped      int     `json:"dropped"` // never sent: every worker was busy
	Late         int     `json:"late"`    // sent more than lateAfterMs behind schedule
	AchievedRPS  float64 `json:"achievedRPS"`
	P50Ms        float64 `json:"p50Ms"`
	P90Ms        float64 `json:"p90Ms"`
	P99Ms        float64 `json:"p99Ms"`
	MaxMs        float64 `json:"maxMs"`
	ServiceP99Ms float64 `json:"serviceP99Ms"`
	LagP99Ms     float64 `json:"lagP99Ms"` // send time minus intended time
	FirstError   string  `json:"firstError,omitempty"`
}

// ParseRates parses a comma-separated list of request rates per second.
func ParseRates(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > benchMaxRate {
			return nil, fmt.Errorf("bench: rate %q must be a whole number from 1 to %d", f, benchMaxRate)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("bench: --rates names no rate")
	}
	return out, nil
}

// checkLoopback refuses any endpoint that is not on this machine: the load
// generator only ever talks to loopback addresses.
func checkLoopback(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench: endpoint %q must be an http(s) URL", endpoint)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("bench: endpoint %q is not a loopback address; bench only drives a Tollgate on this machine", endpoint)
	}
	return u, nil
}

func (o Options) validate() error {
	if _, err := checkLoopback(o.Endpoint); err != nil {
		return err
	}
	if o.Duration <= 0 || o.Duration > benchMaxDuration {
		return fmt.Errorf("bench: duration %v must be above 0 and at most %v", o.Duration, benchMaxDuration)
	}
	if o.Warmup < 0 || o.Warmup > benchMaxDuration {
		return fmt.Errorf("bench: warmup %v must be from 0 to %v", o.Warmup, benchMaxDuration)
	}
	if len(o.Rates) == 0 {
		return errors.New("bench: no rate given")
	}
	for _, r := range o.Rates {
		if r < 1 || r > benchMaxRate {
			return fmt.Errorf("bench: rate %d must be from 1 to %d", r, benchMaxRate)
		}
		if float64(r)*o.Duration.Seconds() > benchMaxCalls {
			return fmt.Errorf("bench: %d req/s for %v is more than %d calls; shorten the duration", r, o.Duration, benchMaxCalls)
		}
	}
	return nil
}

// loadCredentials reads one profile of an AWS shared credentials file.
func loadCredentials(ctx context.Context, file, profile string) (aws.Credentials, error) {
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, profile, func(o *awsconfig.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{file}
		o.ConfigFiles = []string{}
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("bench: credentials %s: %w", file, err)
	}
	if !sc.Credentials.HasKeys() {
		return aws.Credentials{}, fmt.Errorf("bench: credentials %s: profile %q has no access key", file, profile)
	}
	return sc.Credentials, nil
}

// EnsureProfile returns the ARN of the application inference profile
// named "bench", creating it through the official SDK when it is missing.
func EnsureProfile(ctx context.Context, endpoint, region string, creds aws.Credentials) (string, error) {
	bc := bedrock.NewFromConfig(aws.Config{
		Region:           region,
		Credentials:      aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	})
	pages := bedrock.NewListInferenceProfilesPaginator(bc, &bedrock.ListInferenceProfilesInput{TypeEquals: btypes.InferenceProfileTypeApplication})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("bench: list inference profiles: %w", err)
		}
		for _, p := range page.InferenceProfileSummaries {
			if aws.ToString(p.InferenceProfileName) == benchProfileName {
				return aws.ToString(p.InferenceProfileArn), nil
			}
		}
	}
	out, err := bc.CreateInferenceProfile(ctx, &bedrock.CreateInferenceProfileInput{
		InferenceProfileName: aws.String(benchProfileName),
		Description:          aws.String("tollgate bench load"),
		ModelSource:          &btypes.InferenceProfileModelSourceMemberCopyFrom{Value: "arn:aws:bedrock:" + region + "::foundation-model/" + benchSourceModel},
		Tags:                 []btypes.Tag{{Key: aws.String("app"), Value: aws.String("tollgate-bench")}, {Key: aws.String("environment"), Value: aws.String("bench")}},
		ClientRequestToken:   aws.String(benchProfileToken),
	})
	if err != nil {
		return "", fmt.Errorf("bench: create inference profile %q: %w", benchProfileName, err)
	}
	return aws.ToString(out.InferenceProfileArn), nil
}

// errRealProvider marks the refusal to load a provider other than the
// simulator without Options.Yes.
var errRealProvider = errors.New("bench sends no load to a provider other than the simulator without --yes")

// IsRealProvider reports whether err is Run's refusal to send load to a
// model a provider other than the simulator serves.
func IsRealProvider(err error) bool { return errors.Is(err, errRealProvider) }

// checkProviders asks the server (the admin API's GetModelRoutes) which
// providers serve model and refuses any but the simulator unless yes:
// that load would reach, and be billed by, a real model.
func checkProviders(ctx context.Context, endpoint, region string, creds aws.Credentials, model string, yes bool) error {
	c := adminapi.NewClient(endpoint, region, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))
	mr, err := c.GetModelRoutes(ctx, model)
	if err != nil {
		if yes {
			return nil
		}
		return fmt.Errorf("bench: cannot tell which provider serves %s (%v): %w", model, err, errRealProvider)
	}
	var real []string
	for _, r := range mr.Routes {
		if r.ProviderType != "sim" {
			real = append(real, fmt.Sprintf("%s (%s) in %s", r.Provider, r.ProviderType, r.Region))
		}
	}
	if len(mr.Routes) == 0 {
		real = append(real, "no provider")
	}
	if len(real) > 0 && !yes {
		return fmt.Errorf("bench: %s is served by %s: %w", model, strings.Join(real, ", "), errRealProvider)
	}
	return nil
}

// ConverseBody is the Converse request every benchmark call sends.
func ConverseBody() []byte {
	b, _ := json.Marshal(map[string]any{
		"messages":        []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": benchPrompt}}}},
		"inferenceConfig": map[string]any{"maxTokens": 200},
	})
	return b
}

// Signer builds SigV4-signed Converse requests the way the AWS
// SDK for Go does: the same path escaping, headers and signer.
type Signer struct {
	signer      *v4.Signer
	creds       aws.Credentials
	region      string
	path        string // escaped /model/{modelId}/converse
	body        []byte
	payloadHash string
}

func NewSigner(creds aws.Credentials, region, modelID string, body []byte) *Signer {
	h := sha256.Sum256(body)
	return &Signer{
		signer: v4.NewSigner(), creds: creds, region: region, body: body, payloadHash: hex.EncodeToString(h[:]),
		path: "/model/" + httpbinding.EscapePath(modelID, true) + "/converse",
	}
}

// Body returns the request body s signs.
func (s *Signer) Body() []byte { return s.body }

// Request returns a request to base (scheme://host) signed now.
func (s *Signer) Request(ctx context.Context, base string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+s.path, bytes.NewReader(s.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if err := s.signer.SignHTTP(ctx, s.creds, req, s.payloadHash, "bedrock", s.region, time.Now()); err != nil {
		return nil, err
	}
	return req, nil
}

// Do sends req and reads the whole response; a status other than 200 is an
// error carrying the start of the body.
func Do(client *http.Client, req *http.Request) ([]byte, http.Header, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		if len(body) > 200 {
			body = body[:200]
		}
		return nil, nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, resp.Header, nil
}

// Client is an HTTP/1.1 keep-alive client with room for conns idle
// connections.
func Client(conns int) *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	return &http.Client{
		Timeout: benchReqTimeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			Protocols:           &p,
		},
	}
}

// benchWorkers is the worker pool for a rate: enough that a slow answer
// never holds back the schedule (up to 100 ms of backlog plus 64 spare).
func benchWorkers(rate int) int { return rate/10 + 64 }

// BareHandler answers every request with the captured Converse response,
// after reading the request body as Tollgate does.
func BareHandler(body []byte, contentType, requestID string) http.Handler {
	clen := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("X-Amzn-Requestid", requestID)
		h.Set("Content-Type", contentType)
		h.Set("Content-Length", clen)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// Run measures o.Rates against Tollgate (and the bare handler), writing
// progress lines to progress.
func Run(ctx context.Context, o Options, progress io.Writer) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	endpoint := strings.TrimRight(o.Endpoint, "/")
	creds, err := loadCredentials(ctx, o.Credentials, o.Profile)
	if err != nil {
		return nil, err
	}
	model := o.Model
	if model == "" {
		if model, err = EnsureProfile(ctx, endpoint, o.Region, creds); err != nil {
			return nil, err
		}
	}
	if err := checkProviders(ctx, endpoint, o.Region, creds, model, o.Yes); err != nil {
		return nil, err
	}
	sig := NewSigner(creds, o.Region, model, ConverseBody())
	conns := benchWorkers(slices.Max(o.Rates))
	tgClient := Client(conns)
	defer tgClient.CloseIdleConnections()

	// One real call first: it checks the setup, and its bytes are what the
	// bare handler returns.
	req, err := sig.Request(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	sample, hdr, err := Do(tgClient, req)
	if err != nil {
		return nil, fmt.Errorf("bench: first Converse through %s: %w", model, err)
	}

	rep := &Report{
		Endpoint: endpoint, Model: model, BodyBytes: len(sample),
		Duration: o.Duration.String(), Warmup: o.Warmup.String(),
		NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), StartedAt: time.Now().UTC(),
		LateAfterM: ms(benchLateAfter),
	}
	var bareURL string
	var bareClient *http.Client
	if o.Bare {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: BareHandler(sample, hdr.Get("Content-Type"), hdr.Get("X-Amzn-Requestid")), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		bareURL = "http://" + ln.Addr().String()
		rep.BareURL = bareURL
		bareClient = Client(conns)
		defer bareClient.CloseIdleConnections()
		req, err := sig.Request(ctx, bareURL)
		if err != nil {
			return nil, err
		}
		got, _, err := Do(bareClient, req)
		if err != nil || !bytes.Equal(got, sample) {
			return nil, fmt.Errorf("bench: bare handler did not echo the sample (%v)", err)
		}
	}

	for _, rate := range o.Rates {
		run := RateRun{Rate: rate}
		fmt.Fprintf(progress, "bench: %d req/s against Tollgate for %v...\n", rate, o.Duration)
		run.Tollgate, err = measureRate(ctx, tgClient, signed(sig, endpoint), rate, o.Warmup, o.Duration)
		if err != nil {
			return nil, err
		}
		if o.Bare {
			fmt.Fprintf(progress, "bench: %d req/s against the bare handler for %v...\n", rate, o.Duration)
			bare, err := measureRate(ctx, bareClient, signed(sig, bareURL), rate, o.Warmup, o.Duration)
			if err != nil {
				return nil, err
			}
			run.Bare = &bare
			p99 := round3(run.Tollgate.P99Ms - bare.P99Ms)
			p50 := round3(run.Tollgate.P50Ms - bare.P50Ms)
			run.P99OverheadMs, run.P50OverheadMs = &p99, &p50
		}
		rep.Runs = append(rep.Runs, run)
	}
	return rep, nil
}

// measureRate warms up, then runs one measured fixed-rate load.
func measureRate(ctx context.Context, client *http.Client, newReq RequestFunc, rate int, warmup, dur time.Duration) (Stats, error) {
	if warmup > 0 {
		if _, err := fixedRate(ctx, client, newReq, rate, warmup); err != nil {
			return Stats{}, err
		}
	}
	// A short pause lets the last warm-up answers drain and the ledger
	// catch up, so runs start from the same state.
	select {
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
		return Stats{}, ctx.Err()
	}
	return fixedRate(ctx, client, newReq, rate, dur)
}

// RequestFunc builds one request of a load run; it is called by the
// worker that sends it, just before sending.
type RequestFunc func(ctx context.Context) (*http.Request, error)

// signed is the RequestFunc of SigV4-signed Converse calls to base.
func signed(sig *Signer, base string) RequestFunc {
	return func(ctx context.Context) (*http.Request, error) { return sig.Request(ctx, base) }
}

// fixedRate sends rate requests per second for dur, open loop: request i
// is due at start + i/rate whether or not earlier ones have been answered.
// newReq builds each request.
// A dispatcher hands each due request to a bounded pool of workers; when
// all are busy and the hand-off queue is full the request is dropped and
// counted. Each worker builds (and signs) its request just before sending
// it (client work, the same for every target), and latency runs from the
// due time to the last byte of the response.
func fixedRate(ctx context.Context, client *http.Client, newReq RequestFunc, rate int, dur time.Duration) (Stats, error) {
	n := max(1, int(math.Round(float64(rate)*dur.Seconds())))
	interval := float64(time.Second) / float64(rate)
	workers := benchWorkers(rate)

	ctx, cancel := context.WithTimeout(ctx, dur+benchReqTimeout+5*time.Second)
	defer cancel()

	lat := make([]time.Duration, n) // from due time; -1 = not completed
	svc := make([]time.Duration, n) // from send
	lag := make([]time.Duration, n) // send minus due
	for i := range lat {
		lat[i] = -1
	}
	var (
		errCount, late atomic.Int64
		firstErr       atomic.Pointer[string]
		lastEnd        atomic.Int64 // unix nanos
	)
	jobs := make(chan int, workers)
	start := time.Now().Add(5 * time.Millisecond)
	due := func(i int) time.Time { return start.Add(time.Duration(float64(i) * interval)) }

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				sent := time.Now()
				lag[i] = sent.Sub(due(i))
				if lag[i] > benchLateAfter {
					late.Add(1)
				}
				err := func() error {
					req, err := newReq(ctx)
					if err != nil {
						return err
					}
					_, _, err = Do(client, req)
					return err
				}()
				end := time.Now()
				if err != nil {
					errCount.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				lat[i], svc[i] = end.Sub(due(i)), end.Sub(sent)
				for {
					old := lastEnd.Load()
					if end.UnixNano() <= old || lastEnd.CompareAndSwap(old, end.UnixNano()) {
						break
					}
				}
			}
		})
	}

	dropped := 0
dispatch:
	for i := range n {
		if d := time.Until(due(i)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				dropped += n - i
				break dispatch
			}
		}
		select {
		case jobs <- i:
		default:
			dropped++
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && errors.Is(err, context.Canceled) {
		return Stats{}, err
	}

	st := Stats{Scheduled: n, Errors: int(errCount.Load()), Dropped: dropped, Late: int(late.Load())}
	if p := firstErr.Load(); p != nil {
		st.FirstError = *p
	}
	var done, service, lags []time.Duration
	for i := range lat {
		if lat[i] >= 0 {
			done = append(done, lat[i])
			service = append(service, svc[i])
			lags = append(lags, lag[i])
		}
	}
	st.Completed = len(done)
	if len(done) == 0 {
		return st, nil
	}
	if elapsed := time.Unix(0, lastEnd.Load()).Sub(start); elapsed > 0 {
		st.AchievedRPS = math.Round(float64(len(done))/elapsed.Seconds()*10) / 10
	}
	slices.Sort(done)
	slices.Sort(service)
	slices.Sort(lags)
	st.P50Ms, st.P90Ms, st.P99Ms = ms(quantile(done, 0.50)), ms(quantile(done, 0.90)), ms(quantile(done, 0.99))
	st.MaxMs = ms(done[len(done)-1])
	st.ServiceP99Ms = ms(quantile(service, 0.99))
	st.LagP99Ms = ms(quantile(lags, 0.99))
	return st, nil
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Print writes r as a table with the overheads and first errors.
func (r *Report) Print(w io.Writer) error {
	fmt.Fprintf(w, "Converse through %s\n", r.Model)
	fmt.Fprintf(w, "Tollgate %s", r.Endpoint)
	if r.BareURL != "" {
		fmt.Fprintf(w, "; bare Go handler %s returning the same %d bytes", r.BareURL, r.BodyBytes)
	}
	fmt.Fprintf(w, "\n%s measured per rate after %s warm-up; %d CPUs; latency in ms from the intended start time\n\n", r.Duration, r.Warmup, r.NumCPU)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RATE\tTARGET\tACHIEVED\tP50\tP90\tP99\tMAX\tSVC P99\tLAG P99\tERRORS\tDROPPED\tLATE\t")
	row := func(rate int, name string, s Stats) {
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t\n", rate, name, s.AchievedRPS,
			s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs, s.ServiceP99Ms, s.LagP99Ms, s.Errors, s.Dropped, s.Late)
	}
	for _, run := range r.Runs {
		row(run.Rate, "tollgate", run.Tollgate)
		if run.Bare != nil {
			row(run.Rate, "bare", *run.Bare)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var firsts []string
	for _, run := range r.Runs {
		if run.P99OverheadMs != nil {
			fmt.Fprintf(w, "overhead at %d req/s: p50 %+.3f ms, p99 %+.3f ms\n", run.Rate, *run.P50OverheadMs, *run.P99OverheadMs)
		}
		if run.Tollgate.FirstError != "" {
			firsts = append(firsts, fmt.Sprintf("%d req/s tollgate: %s", run.Rate, run.Tollgate.FirstError))
		}
		if run.Bare != nil && run.Bare.FirstError != "" {
			firsts = append(firsts, fmt.Sprintf("%d req/s bare: %s", run.Rate, run.Bare.FirstError))
		}
	}
	for _, f := range firsts {
		fmt.Fprintln(w, "first error at", f)
	}
	return nil
}
