package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// demoProfile is one application inference profile of the insurance example.
type demoProfile struct {
	name   string
	source string // foundation-model id or system-profile id
	tags   map[string]string
}

// demoProfiles is the insurance company of DESIGN.md: claims automation,
// sales support chat, and policy recommendations and risk assessment in two
// environments each.
var demoProfiles = []demoProfile{
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

// demoFlags takes the demo's own flags out of args.
func demoFlags(args []string) (rest []string, once bool, calls int, err error) {
	calls = 300
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == "once":
			once = true
		case a == "calls" && i+1 < len(args):
			i++
			calls, err = strconv.Atoi(args[i])
		case strings.HasPrefix(a, "calls="):
			calls, err = strconv.Atoi(strings.TrimPrefix(a, "calls="))
		default:
			rest = append(rest, args[i])
		}
		if err != nil || calls < 0 {
			return nil, false, 0, fmt.Errorf("--calls needs a non-negative number")
		}
	}
	return rest, once, calls, nil
}

// demo runs Tollgate in-process, builds the insurance example through the
// official AWS SDK, sends simulated traffic, prints a cost report, and then
// keeps serving (unless --once).
func demo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	args, once, calls, err := demoFlags(args)
	if err != nil {
		return err
	}
	cfg, err := config.Load("tollgate demo", args, getenv)
	if err != nil {
		return err
	}
	if cfg.LogLevel == "info" {
		cfg.LogLevel = "warn" // keep the demo's output readable
	}
	if len(cfg.Routes) == 0 {
		// Simulate a model that takes a moment to answer, as real ones do
		// (and as the AWS SDK for Go needs; see docs/providers.md).
		cfg.Providers = append(cfg.Providers, config.Provider{Name: "demo-sim", Type: "sim",
			Latency: 15 * time.Millisecond, TokensPerSecond: 2000})
		cfg.Routes = []config.Route{{Provider: "demo-sim"}}
	}
	m := NewMain(cfg, stderr)
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	defer m.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()

	start := time.Now()
	if err := runDemo(ctx, m, calls, stdout); err != nil {
		stop()
		<-done
		return err
	}
	if err := printDemoReport(ctx, m, start.Add(-time.Hour), stdout); err != nil {
		stop()
		<-done
		return err
	}
	fmt.Fprintf(stdout, "\nTollgate is serving on %s (region %s).\n", m.URL(), cfg.Region)
	creds, _ := filepath.Abs(m.CredentialsFile())
	conf, _ := filepath.Abs(m.ConfigFile())
	fmt.Fprintf(stdout, "Point any AWS SDK or the AWS CLI at it:\n  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_CONFIG_FILE=%s\n", creds, conf)
	fmt.Fprintf(stdout, "  aws bedrock list-inference-profiles --type-equals APPLICATION --endpoint-url %s\n", m.URL())
	if once {
		stop()
		return ignoreCanceled(<-done)
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	return ignoreCanceled(<-done)
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (m *Main) clientConfig(ctx context.Context) (aws.Config, error) {
	return awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(m.Config.Region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(m.RootAccessKeyID, m.RootSecretAccessKey, "")),
		awsconfig.WithBaseEndpoint(m.URL()),
		awsconfig.WithSharedConfigFiles([]string{m.ConfigFile()}),
		awsconfig.WithSharedCredentialsFiles([]string{m.CredentialsFile()}),
	)
}

func runDemo(ctx context.Context, m *Main, calls int, stdout io.Writer) error {
	cfg, err := m.clientConfig(ctx)
	if err != nil {
		return err
	}
	bc := bedrock.NewFromConfig(cfg)

	fmt.Fprintf(stdout, "Creating %d application inference profiles through the AWS SDK...\n", len(demoProfiles))
	arns := make([]string, len(demoProfiles))
	for i, p := range demoProfiles {
		source := "arn:aws:bedrock:" + m.Config.Region + "::foundation-model/" + p.source
		if strings.HasPrefix(p.source, "us.") || strings.HasPrefix(p.source, "eu.") || strings.HasPrefix(p.source, "apac.") {
			source = "arn:aws:bedrock:" + m.Config.Region + ":" + m.Config.AccountID + ":inference-profile/" + p.source
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
			return fmt.Errorf("create %s: %w", p.name, err)
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
				p := demoProfiles[i%len(demoProfiles)]
				err := demoCall(ctx, rc, arns[i%len(arns)], p.source, i%4, fmt.Sprintf(prompts[i%len(prompts)], 1000+i))
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
		return ctx.Err()
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d demo calls failed; first: %w", failures, calls, firstErr)
	}
	return nil
}

func demoCall(ctx context.Context, rc *bedrockruntime.Client, model, source string, kind int, prompt string) error {
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

// printDemoReport prints cost per tag value and per profile from the hourly
// rollups since from.
func printDemoReport(ctx context.Context, m *Main, from time.Time, w io.Writer) error {
	rolls, err := m.DB.Rollups(ctx, m.Config.AccountID, from, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
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
		if p, err := m.Profiles.Get(r.Account, r.ProfileARN); r.ProfileARN != "" && err == nil {
			name = p.Name + " (" + p.ID + ")"
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
