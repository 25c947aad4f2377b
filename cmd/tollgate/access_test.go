package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// cli runs a tollgate admin command against ts and decodes its JSON output.
func (ts *testServer) cli(t *testing.T, out any, args ...string) error {
	t.Helper()
	var buf bytes.Buffer
	args = append(args[:2:2], append([]string{"--endpoint", ts.URL(), "--credentials", ts.CredentialsFile(), "--data-dir", ts.Config.DataDir}, args[2:]...)...)
	err := run(t.Context(), args, &buf, io.Discard, func(string) string { return "" })
	if err == nil && out != nil {
		if jerr := json.Unmarshal(buf.Bytes(), out); jerr != nil {
			t.Fatalf("tollgate %s: output %q: %v", strings.Join(args, " "), buf.String(), jerr)
		}
	}
	return err
}

func (ts *testServer) mustCLI(t *testing.T, out any, args ...string) {
	t.Helper()
	if err := ts.cli(t, out, args...); err != nil {
		t.Fatalf("tollgate %s: %v", strings.Join(args, " "), err)
	}
}

// newUser creates a principal with tags, attaches policies and returns
// its access key.
func (ts *testServer) newUser(t *testing.T, account, name string, policies []string, tags ...string) (id string, key, secret string) {
	t.Helper()
	args := []string{"principals", "create", "--name", name, "--account", account}
	for i := 0; i+1 < len(tags); i += 2 {
		args = append(args, "--tag", tags[i]+"="+tags[i+1])
	}
	var p struct {
		ID string `json:"principalId"`
	}
	ts.mustCLI(t, &p, args...)
	for _, pol := range policies {
		ts.mustCLI(t, nil, "policies", "attach", "--principal", p.ID, "--policy", pol)
	}
	var k struct {
		ID     string `json:"accessKeyId"`
		Secret string `json:"secretAccessKey"`
	}
	ts.mustCLI(t, &k, "keys", "create", "--principal", p.ID)
	return p.ID, k.ID, k.Secret
}

func (ts *testServer) putPolicy(t *testing.T, account, name, doc string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ts.mustCLI(t, nil, "policies", "put", "--account", account, "--name", name, "--file", f)
}

const (
	teamInvokePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "InvokeOwnTeamProfiles", "Effect": "Allow",
     "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:GetInferenceProfile"],
     "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Sid": "ModelsOnlyThroughProfiles", "Effect": "Allow",
     "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
     "Resource": "arn:aws:bedrock:*::foundation-model/*",
     "Condition": {"ArnLike": {"bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:application-inference-profile/*"}}},
    {"Sid": "List", "Effect": "Allow", "Action": ["bedrock:ListInferenceProfiles", "bedrock:ListFoundationModels"], "Resource": "*"}
  ]
}`
	createWithTagsPolicy = `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "bedrock:CreateInferenceProfile", "Resource": "*",
    "Condition": {"Null": {"aws:RequestTag/dept": "false", "aws:RequestTag/app": "false"}}}]
}`
	denySystemPolicy = `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Deny", "Action": "bedrock:InvokeModel*", "Resource": "arn:aws:bedrock:*:*:inference-profile/*"},
                {"Effect": "Allow", "Action": "bedrock:InvokeModel*", "Resource": "*"}]
}`
	adminPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["bedrock:*", "tag:*", "ce:*"], "Resource": "*"}]}`
)

// TestAccessControl drives several principals in two accounts through the
// official SDK: ABAC on profile tags, required request tags, a deny on
// system-defined profiles, key revocation and cross-account isolation.
func TestAccessControl(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	const mgmt, dev = "123456789012", "210987654321"
	ts.mustCLI(t, nil, "accounts", "create", "--id", dev, "--name", "dev")
	for acct, pols := range map[string][]string{mgmt: {"team-invoke", "create-with-tags", "deny-system", "admin"}, dev: {"admin"}} {
		for _, name := range pols {
			doc := map[string]string{"team-invoke": teamInvokePolicy, "create-with-tags": createWithTagsPolicy, "deny-system": denySystemPolicy, "admin": adminPolicy}[name]
			ts.putPolicy(t, acct, name, doc)
		}
	}
	aliceID, aliceKey, aliceSecret := ts.newUser(t, mgmt, "alice", []string{"team-invoke", "create-with-tags"}, "team", "claims")
	_, bobKey, bobSecret := ts.newUser(t, mgmt, "bob", []string{"deny-system"}, "team", "sales")
	_, carolKey, carolSecret := ts.newUser(t, dev, "carol", []string{"admin"})

	as := func(key, secret string) (*bedrock.Client, *bedrockruntime.Client) {
		creds := credentials.NewStaticCredentialsProvider(key, secret, "")
		return ts.bedrock(t, func(o *bedrock.Options) { o.Credentials = creds }),
			ts.runtime(t, func(o *bedrockruntime.Options) { o.Credentials = creds })
	}
	rootB := ts.bedrock(t)
	claims := createProfile(t, rootB, "claims", haikuARN, tagList("team", "claims", "dept", "claims")...)
	sales := createProfile(t, rootB, "sales", haikuARN, tagList("team", "sales", "dept", "sales")...)

	aliceB, aliceR := as(aliceKey, aliceSecret)
	bobB, bobR := as(bobKey, bobSecret)
	carolB, carolR := as(carolKey, carolSecret)
	invoke := func(c *bedrockruntime.Client, model string) error {
		_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText("hi")})
		return err
	}
	stream := func(c *bedrockruntime.Client, model string) error {
		out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: userText("hi")})
		if err != nil {
			return err
		}
		return readConverseStream(out).err
	}
	create := func(c *bedrock.Client, name string, tags ...btypes.Tag) error {
		_, err := c.CreateInferenceProfile(ctx, &bedrock.CreateInferenceProfileInput{InferenceProfileName: aws.String(name),
			ModelSource: &btypes.InferenceProfileModelSourceMemberCopyFrom{Value: haikuARN}, Tags: tags})
		return err
	}
	denied := new(*rt.AccessDeniedException)
	bdenied := new(*btypes.AccessDeniedException)
	t.Run("ABAC on profile tags, required request tags, the system-profile deny", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			err  error
			want any // nil = allowed
		}{
			{"alice invokes her team's profile", invoke(aliceR, claims), nil},
			{"alice streams from her team's profile", stream(aliceR, claims), nil},
			{"alice invokes another team's profile", invoke(aliceR, sales), denied},
			{"alice invokes the base model directly", invoke(aliceR, haikuID), denied},
			{"alice invokes a system profile", invoke(aliceR, usHaiku), denied},
			{"alice creates a profile without the cost tags", create(aliceB, "untagged"), bdenied},
			{"alice creates a profile with only dept", create(aliceB, "half", tagList("dept", "claims")...), bdenied},
			{"alice creates a profile with dept and app", create(aliceB, "tagged", tagList("dept", "claims", "app", "bot")...), nil},
			{"alice deletes a profile (no policy)", func() error {
				_, err := aliceB.DeleteInferenceProfile(ctx, &bedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(claims)})
				return err
			}(), bdenied},
			{"bob invokes any profile", invoke(bobR, sales), nil},
			{"bob invokes a system profile (explicit deny)", invoke(bobR, usHaiku), denied},
			{"bob streams from a system profile (explicit deny)", stream(bobR, usHaiku), denied},
			{"bob may not list profiles", func() error {
				_, err := bobB.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{})
				return err
			}(), bdenied},
			{"carol cannot see the management account's profile", func() error {
				_, err := carolB.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(claims)})
				return err
			}(), new(*btypes.ResourceNotFoundException)},
			{"carol cannot invoke it either", invoke(carolR, claims), new(*rt.ResourceNotFoundException)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.want == nil {
					if tc.err != nil {
						t.Fatalf("denied: %v", tc.err)
					}
					return
				}
				assertErrorAs(t, tc.err, tc.want)
			})
		}
	})
	t.Run("the denial names the action and the resource", func(t *testing.T) {
		err := invoke(aliceR, sales)
		if msg := err.Error(); !strings.Contains(msg, "bedrock:InvokeModel") || !strings.Contains(msg, sales) || !strings.Contains(msg, "user/alice") {
			t.Errorf("denial message %q", msg)
		}
	})

	if !t.Run("carol works in her own account", func(t *testing.T) {
		// Carol works in her own account: her profile is invisible to the
		// management account's principals, and her calls are billed there.
		carolProfile := createProfile(t, carolB, "carol-bot", haikuARN, tagList("team", "claims")...)
		if !strings.Contains(carolProfile, ":"+dev+":") {
			t.Fatalf("carol's profile %s is not in account %s", carolProfile, dev)
		}
		if err := invoke(carolR, carolProfile); err != nil {
			t.Fatal(err)
		}
		_, err := rootB.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(carolProfile)})
		assertErrorAs(t, err, new(*btypes.ResourceNotFoundException))
		list, err := carolB.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{TypeEquals: btypes.InferenceProfileTypeApplication})
		if err != nil || len(list.InferenceProfileSummaries) != 1 {
			t.Errorf("carol lists %d profiles (%v), want 1", len(list.InferenceProfileSummaries), err)
		}
		recs, _ := ts.DB.Records(ctx, ledger.Query{Account: dev})
		if len(recs) != 1 || recs[0].PrincipalID != "user-"+dev+"-carol" {
			t.Errorf("dev account records %+v", recs)
		}
	}) {
		return
	}

	t.Run("the management account sees every account's spend, carol her own", func(t *testing.T) {
		// The management account's root sees every account's spend (the
		// consolidated view); carol sees her account's only.
		accountsSeen := func(c *costexplorer.Client) []string {
			t.Helper()
			day := time.Now().UTC().Format("2006-01-02")
			next := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02")
			out, err := c.GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
				TimePeriod:  &cetypes.DateInterval{Start: aws.String(day), End: aws.String(next)},
				Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"},
				GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("LINKED_ACCOUNT")}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var accts []string
			for _, r := range out.ResultsByTime {
				for _, g := range r.Groups {
					accts = append(accts, g.Keys...)
				}
			}
			slices.Sort(accts)
			return accts
		}
		if got := accountsSeen(costexplorer.NewFromConfig(ts.awsConfig(t))); !slices.Equal(got, []string{mgmt, dev}) {
			t.Errorf("management view of LINKED_ACCOUNT: %v, want both accounts", got)
		}
		carolCE := costexplorer.NewFromConfig(ts.awsConfig(t), func(o *costexplorer.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(carolKey, carolSecret, "")
		})
		if got := accountsSeen(carolCE); !slices.Equal(got, []string{dev}) {
			t.Errorf("carol's view of LINKED_ACCOUNT: %v, want only %s", got, dev)
		}
	})

	t.Run("policy changes and key revocation take effect at once", func(t *testing.T) {
		ts.mustCLI(t, nil, "policies", "detach", "--principal", aliceID, "--policy", "team-invoke")
		assertErrorAs(t, invoke(aliceR, claims), denied)
		ts.mustCLI(t, nil, "keys", "deactivate", bobKey)
		if code := errorCode(invoke(bobR, sales)); code != "UnrecognizedClientException" {
			t.Errorf("deactivated key: code %q", code)
		}
		ts.mustCLI(t, nil, "keys", "activate", bobKey)
		if err := invoke(bobR, sales); err != nil {
			t.Errorf("reactivated key: %v", err)
		}
	})

	t.Run("only the management account administers other accounts", func(t *testing.T) {
		carolAdmin := *ts
		carolAdmin.Config.DataDir = t.TempDir()
		credFile := filepath.Join(carolAdmin.Config.DataDir, "credentials")
		if err := os.WriteFile(credFile, []byte("[default]\naws_access_key_id = "+carolKey+"\naws_secret_access_key = "+carolSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		err := run(ctx, []string{"principals", "list", "--endpoint", ts.URL(), "--credentials", credFile, "--account", mgmt}, &buf, io.Discard, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("carol listing the management account: %v", err)
		}
	})
}

// TestPolicyRejectsUnknownTollgateAction checks the admin API refuses a
// policy naming a tollgate: action that does not exist (Tollgate knows all
// of its own), as IAM refuses an invalid action, and accepts its real
// actions and other services' actions as written.
func TestPolicyRejectsUnknownTollgateAction(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	put := func(name, action string) error {
		f := filepath.Join(t.TempDir(), name+".json")
		doc := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "` + action + `", "Resource": "*"}]}`
		if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return ts.cli(t, nil, "policies", "put", "--account", "123456789012", "--name", name, "--file", f)
	}
	err := put("frob", "tollgate:Frobnicate")
	if err == nil || !strings.Contains(err.Error(), "MalformedPolicyDocument") || !strings.Contains(err.Error(), `Invalid Action: the action "tollgate:Frobnicate" does not exist`) {
		t.Errorf("policy with tollgate:Frobnicate: %v, want MalformedPolicyDocument: Invalid Action", err)
	}
	for name, action := range map[string]string{"metrics": "tollgate:GetMetrics", "admin": "tollgate:PutPolicy", "some": "tollgate:List*",
		"aws-only": "bedrock:CreateModelCustomizationJob"} {
		if err := put(name, action); err != nil {
			t.Errorf("policy with %s: %v", action, err)
		}
	}
}
