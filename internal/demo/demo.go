// Package demo is the worked example `tollgate demo` runs against a
// started Tollgate: an insurance company's application inference profiles
// (DESIGN.md's scenario), simulated traffic through all four runtime
// operations via the official AWS SDK, a usage history of past days with
// seasonality, growth and one spike (history.go), the scenario's budgets,
// alarm and anomaly monitor (seed.go), and a cost report by tag and by
// profile from the hourly rollups.
package demo

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// profile is one application inference profile of the insurance example.
type profile struct {
	name   string
	source string // foundation-model id or system-profile id
	tags   map[string]string
}

// Profiles is the insurance company of DESIGN.md: claims automation,
// sales support chat, and policy recommendations and risk assessment in two
// environments each.
var Profiles = []profile{
	{"claims-chatbot-prod", "us.anthropic.claude-3-haiku-20240307-v1:0",
		map[string]string{"tenant": "acme-insurance", "dept": "claims", "team": "automation", "app": "claims_chatbot", "cost_center": "CC-1001", "environment": "prod"}},
	{"sales-chat-prod", "us.anthropic.claude-3-5-haiku-20241022-v1:0",
		map[string]string{"tenant": "acme-insurance", "dept": "sales", "team": "support", "app": "chat_app", "cost_center": "CC-2002", "environment": "prod"}},
	{"policy-recs-dev", "amazon.nova-lite-v1:0",
		map[string]string{"tenant": "acme-insurance", "dept": "underwriting", "team": "personalization", "app": "policy_recommendations", "cost_center": "CC-3003", "environment": "dev"}},
	{"policy-recs-prod", "us.amazon.nova-pro-v1:0",
		map[string]string{"tenant": "acme-insurance", "dept": "underwriting", "team": "personalization", "app": "policy_recommendations", "cost_center": "CC-3003", "environment": "prod"}},
	{"risk-assessment-dev", "us.meta.llama3-1-8b-instruct-v1:0",
		map[string]string{"tenant": "acme-insurance", "dept": "risk", "team": "actuarial", "app": "risk_assessment", "cost_center": "CC-4004", "environment": "dev"}},
	{"risk-assessment-prod", "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
		map[string]string{"tenant": "acme-insurance", "dept": "risk", "team": "actuarial", "app": "risk_assessment", "cost_center": "CC-4004", "environment": "prod"}},
}

// Options are the demo's own flags.
type Options struct {
	// Once stops after the report instead of serving on.
	Once bool
	// Calls is how many live calls to send. Default 300.
	Calls int
	// Days is how many days of history to backfill; 0 keeps only the
	// live calls. Default 60.
	Days int
	// Help asks for the demo's usage.
	Help bool
}

// Usage is the demo's help text.
const Usage = `Usage: tollgate demo [--once] [--calls N] [--days N] [serve flags]

Runs Tollgate on the embedded SQLite store with the insurance example:
creates its application inference profiles through the AWS SDK, sends
simulated calls through them, backfills past days of usage, seeds the
scenario's budgets, alarm and anomaly monitor, prints a cost report and
what to try next, and keeps serving.

Flags:
  --once        print the report and stop instead of serving (default false)
  --calls int   live calls to send through the profiles (default 300)
  --days int    days of usage history to backfill before today, with
                weekday/weekend seasonality, growth and one spike; 0 = none
                (default 60)
  -h, --help    print this help

Every flag of 'tollgate serve' is accepted too (--data-dir, --addr, ...).

Examples:
  tollgate demo
  tollgate demo --once --days 60 --data-dir ./demo-data
  tollgate demo --days 0 --calls 50
`

// Flags takes the demo's own flags (--once, --calls N, --days N, --help)
// out of args and returns the rest (serve flags).
func Flags(args []string) (rest []string, o Options, err error) {
	o = Options{Calls: 300, Days: 60}
	num := func(name, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--%s needs a non-negative whole number, not %q", name, v)
		}
		return n, nil
	}
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == "h" || a == "help":
			o.Help = true
		case a == "once":
			o.Once = true
		case a == "calls" || a == "days":
			if i+1 >= len(args) {
				return nil, o, fmt.Errorf("--%s needs a value", a)
			}
			i++
			n, err := num(a, args[i])
			if err != nil {
				return nil, o, err
			}
			if a == "calls" {
				o.Calls = n
			} else {
				o.Days = n
			}
		case strings.HasPrefix(a, "calls=") || strings.HasPrefix(a, "days="):
			k, v, _ := strings.Cut(a, "=")
			n, err := num(k, v)
			if err != nil {
				return nil, o, err
			}
			if k == "calls" {
				o.Calls = n
			} else {
				o.Days = n
			}
		default:
			rest = append(rest, args[i])
		}
	}
	if o.Days > 400 {
		return nil, o, fmt.Errorf("--days must be at most 400, not %d", o.Days)
	}
	return rest, o, nil
}

// Drive creates the insurance example's profiles through the official
// AWS SDK (cfg points at Tollgate; region and account name the ARNs of
// the models they copy) and sends calls simulated calls of all four
// runtime operations through them, printing progress to stdout. It
// returns the profiles' ARNs by name.
func Drive(ctx context.Context, cfg aws.Config, region, account string, calls int, stdout io.Writer) (map[string]string, error) {
	bc := bedrock.NewFromConfig(cfg)

	fmt.Fprintf(stdout, "Creating %d application inference profiles through the AWS SDK...\n", len(Profiles))
	arns := make([]string, len(Profiles))
	for i, p := range Profiles {
		source := "arn:aws:bedrock:" + region + "::foundation-model/" + p.source
		if strings.HasPrefix(p.source, "us.") || strings.HasPrefix(p.source, "eu.") || strings.HasPrefix(p.source, "apac.") {
			source = "arn:aws:bedrock:" + region + ":" + account + ":inference-profile/" + p.source
		}
		var tags []btypes.Tag
		for _, k := range sortedKeys(p.tags) {
			tags = append(tags, btypes.Tag{Key: aws.String(k), Value: aws.String(p.tags[k])})
		}
		out, err := bc.CreateInferenceProfile(ctx, &bedrock.CreateInferenceProfileInput{
			InferenceProfileName: aws.String(p.name),
			Description:          aws.String("Tollgate demo " + p.tags["app"]),
			ModelSource:          &btypes.InferenceProfileModelSourceMemberCopyFrom{Value: source},
			Tags:                 tags,
			ClientRequestToken:   aws.String("tollgate-demo-" + p.name), // re-running the demo reuses them
		})
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", p.name, err)
		}
		arns[i] = aws.ToString(out.InferenceProfileArn)
		fmt.Fprintf(stdout, "  %-22s %s\n", p.name, arns[i])
	}

	fmt.Fprintf(stdout, "Sending %d simulated calls (Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream)...\n", calls)
	prompts := []string{
		"Summarise the claim notes for policy %d and flag missing documents.",
		"A customer asks about upgrading home insurance plan %d. Draft a reply.",
		"Recommend a policy bundle for household %d with two cars and a dog.",
		"Assess the flood risk of property %d near the river.",
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures int
	var firstErr error
	jobs := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One runtime client per worker: the AWS SDK for Go's event-stream
			// codec is shared by a client's calls and is not safe for
			// concurrent streams (see docs/providers.md).
			rc := bedrockruntime.NewFromConfig(cfg)
			for i := range jobs {
				p := Profiles[i%len(Profiles)]
				err := call(ctx, rc, arns[i%len(arns)], p.source, i%4, fmt.Sprintf(prompts[i%len(prompts)], 1000+i))
				if err != nil {
					err = fmt.Errorf("%s via %s: %w", []string{"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"}[i%4], p.name, err)
				}
				if err != nil {
					mu.Lock()
					failures++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range calls {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if failures > 0 {
		return nil, fmt.Errorf("%d of %d demo calls failed; first: %w", failures, calls, firstErr)
	}
	byName := make(map[string]string, len(arns))
	for i, p := range Profiles {
		byName[p.name] = arns[i]
	}
	return byName, nil
}

func call(ctx context.Context, rc *bedrockruntime.Client, model, source string, kind int, prompt string) error {
	msgs := []rtypes.Message{{Role: rtypes.ConversationRoleUser, Content: []rtypes.ContentBlock{&rtypes.ContentBlockMemberText{Value: prompt}}}}
	switch kind {
	case 0:
		_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs})
		return err
	case 1:
		out, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: msgs})
		if err != nil {
			return err
		}
		return drain(out.GetStream())
	}
	body := nativeBody(source, prompt)
	if kind == 2 {
		_, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
		return err
	}
	out, err := rc.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
	if err != nil {
		return err
	}
	return drain(out.GetStream())
}

// eventStream is what both runtime stream types offer.
type eventStream[E any] interface {
	Events() <-chan E
	Err() error
	Close() error
}

// drain reads a stream to its end and returns its error.
func drain[E any](s eventStream[E]) error {
	defer s.Close()
	for range s.Events() {
	}
	return s.Err()
}

// nativeBody builds an InvokeModel body in the model family's own format.
func nativeBody(model, prompt string) []byte {
	q := strconv.Quote(prompt)
	switch {
	case strings.Contains(model, "anthropic."):
		return []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":300,"messages":[{"role":"user","content":` + q + `}]}`)
	case strings.Contains(model, "amazon.nova"):
		return []byte(`{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":` + q + `}]}],"inferenceConfig":{"maxTokens":300}}`)
	case strings.Contains(model, "meta."):
		return []byte(`{"prompt":` + q + `,"max_gen_len":300}`)
	}
	return []byte(`{"inputText":` + q + `}`)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Report prints cost per tag value and per profile from hourly rollups;
// profileName names a profile ARN of an account ("" when unknown).
func Report(w io.Writer, rolls []ledger.Rollup, profileName func(account, arn string) string) error {
	type agg struct {
		calls, in, out int64
		cost           money.Amount
	}
	byTag := map[string]map[string]*agg{}
	byProfile := map[string]*agg{}
	var total agg
	add := func(a *agg, r ledger.Rollup) {
		a.calls += r.Calls
		a.in += r.InputTokens
		a.out += r.OutputTokens
		a.cost += r.Cost
	}
	for _, r := range rolls {
		add(&total, r)
		for _, k := range []string{"dept", "app", "environment", "cost_center"} {
			if byTag[k] == nil {
				byTag[k] = map[string]*agg{}
			}
			v := r.Tags[k]
			if byTag[k][v] == nil {
				byTag[k][v] = &agg{}
			}
			add(byTag[k][v], r)
		}
		name := r.ModelID + " (direct)"
		if n := profileName(r.Account, r.ProfileARN); r.ProfileARN != "" && n != "" {
			name = n
		}
		if byProfile[name] == nil {
			byProfile[name] = &agg{}
		}
		add(byProfile[name], r)
	}
	fmt.Fprintf(w, "\nCost by tag (USD, exact to the nano-dollar; untagged spend shows as \"(untagged)\")\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TAG\tVALUE\tCALLS\tINPUT TOKENS\tOUTPUT TOKENS\tCOST (USD)\t")
	for _, k := range []string{"dept", "app", "environment", "cost_center"} {
		vals := make([]string, 0, len(byTag[k]))
		for v := range byTag[k] {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		for _, v := range vals {
			a := byTag[k][v]
			label := v
			if label == "" {
				label = "(untagged)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t\n", k, label, a.calls, a.in, a.out, a.cost.Decimal(9))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nCost by inference profile\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tCALLS\tINPUT TOKENS\tOUTPUT TOKENS\tCOST (USD)\t")
	names := make([]string, 0, len(byProfile))
	for n := range byProfile {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := byProfile[n]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", n, a.calls, a.in, a.out, a.cost.Decimal(9))
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%s\t\n", total.calls, total.in, total.out, total.cost.Decimal(9))
	return tw.Flush()
}
