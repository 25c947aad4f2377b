package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/google/go-cmp/cmp"
)

// teamTaggerPolicy is what docs/access-control.md advises for the Tagging
// API (tag:*), with Bedrock's tag permissions limited to the caller's
// team's profiles and an explicit deny on removing the team tag.
const teamTaggerPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "tag:*", "Resource": "*"},
    {"Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:TagResource", "bedrock:UntagResource"],
     "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "arn:aws:bedrock:*::foundation-model/*"},
    {"Effect": "Deny", "Action": ["bedrock:UntagResource", "bedrock:TagResource"], "Resource": "*",
     "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}}
  ]
}`

// TestTaggingAPIAuthorizesOnResources is the regression test of the
// Tagging API bypass: TagResources and UntagResources need bedrock's own
// tag permissions on each profile, with its conditions, whichever protocol
// carries them, and report a denial per resource; the read operations
// never show another account's profiles.
func TestTaggingAPIAuthorizesOnResources(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	const mgmt, dev = "123456789012", "210987654321"
	ts.putPolicy(t, mgmt, "team-tagger", teamTaggerPolicy)
	_, key, secret := ts.newUser(t, mgmt, "mallory", []string{"team-tagger"}, "team", "sales")
	creds := credentials.NewStaticCredentialsProvider(key, secret, "")

	root := ts.bedrock(t)
	claims := createProfile(t, root, "claims", haikuARN, tagList("team", "claims", "dept", "claims")...)
	sales := createProfile(t, root, "sales", haikuARN, tagList("team", "sales")...)
	teamOf := func(arn string) string {
		t.Helper()
		out, err := root.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range out.Tags {
			if aws.ToString(tg.Key) == "team" {
				return aws.ToString(tg.Value)
			}
		}
		return ""
	}

	// Bedrock's own TagResource denies the retag: the Tagging API must
	// agree.
	br := ts.bedrock(t, func(o *bedrock.Options) { o.Credentials = creds })
	_, err := br.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(claims), Tags: tagList("team", "sales")})
	assertErrorAs(t, err, new(*btypes.AccessDeniedException))

	for proto, opt := range taggingProtocols {
		t.Run(proto, func(t *testing.T) {
			c := ts.tagging(t, opt, func(o *rgt.Options) { o.Credentials = creds })
			denied := func(t *testing.T, failed map[string]rgttypes.FailureInfo, arn string) {
				t.Helper()
				f, ok := failed[arn]
				if !ok {
					t.Fatalf("FailedResourcesMap %v has no entry for %s", failed, arn)
				}
				if f.StatusCode != 403 || f.ErrorCode != rgttypes.ErrorCodeInvalidParameterException {
					t.Errorf("failure %d %s %q, want 403 InvalidParameterException", f.StatusCode, f.ErrorCode, aws.ToString(f.ErrorMessage))
				}
			}
			t.Run("retag another team's profile into the caller's team", func(t *testing.T) {
				out, err := c.TagResources(ctx, &rgt.TagResourcesInput{ResourceARNList: []string{claims}, Tags: map[string]string{"team": "sales"}})
				if err != nil {
					t.Fatal(err)
				}
				denied(t, out.FailedResourcesMap, claims)
				if got := teamOf(claims); got != "claims" {
					t.Errorf("claims profile's team is %q after a denied retag", got)
				}
				rc := ts.runtime(t, func(o *bedrockruntime.Options) { o.Credentials = creds })
				_, err = rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(claims), Messages: userText("hi")})
				assertErrorAs(t, err, new(*rt.AccessDeniedException))
			})
			t.Run("explicit deny on untagging team", func(t *testing.T) {
				out, err := c.UntagResources(ctx, &rgt.UntagResourcesInput{ResourceARNList: []string{sales}, TagKeys: []string{"team"}})
				if err != nil {
					t.Fatal(err)
				}
				denied(t, out.FailedResourcesMap, sales)
				if got := teamOf(sales); got != "sales" {
					t.Errorf("sales profile's team is %q after a denied untag", got)
				}
			})
			t.Run("allowed on its own team's profile, denied on the other in one batch", func(t *testing.T) {
				out, err := c.TagResources(ctx, &rgt.TagResourcesInput{ResourceARNList: []string{sales, claims}, Tags: map[string]string{"app": "chat_" + proto}})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.FailedResourcesMap) != 1 {
					t.Errorf("FailedResourcesMap %v, want the claims profile only", out.FailedResourcesMap)
				}
				denied(t, out.FailedResourcesMap, claims)
				un, err := c.UntagResources(ctx, &rgt.UntagResourcesInput{ResourceARNList: []string{sales}, TagKeys: []string{"app"}})
				if err != nil || len(un.FailedResourcesMap) != 0 {
					t.Errorf("untag app on its own profile: %v %v", un, err)
				}
			})
		})
	}

	// Reads through the Tagging API stay in the caller's account, even
	// when it names another account's ARN.
	ts.mustCLI(t, nil, "accounts", "create", "--id", dev, "--name", "dev")
	ts.putPolicy(t, dev, "tag-all", `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["tag:*", "bedrock:*"], "Resource": "*"}]}`)
	_, dkey, dsecret := ts.newUser(t, dev, "carol", []string{"tag-all"}, "team", "claims")
	for proto, opt := range taggingProtocols {
		t.Run(proto+"/another account's reads", func(t *testing.T) {
			c := ts.tagging(t, opt, func(o *rgt.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(dkey, dsecret, "")
			})
			res, err := c.GetResources(ctx, &rgt.GetResourcesInput{ResourceARNList: []string{claims, sales}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.ResourceTagMappingList) != 0 {
				t.Errorf("GetResources by ARN shows %v", res.ResourceTagMappingList)
			}
			all, err := c.GetResources(ctx, &rgt.GetResourcesInput{})
			if err != nil || len(all.ResourceTagMappingList) != 0 {
				t.Errorf("GetResources shows %v (%v)", all.ResourceTagMappingList, err)
			}
			keys, err := c.GetTagKeys(ctx, &rgt.GetTagKeysInput{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(keys.TagKeys, []string{}); diff != "" {
				t.Errorf("GetTagKeys (-got +want):\n%s", diff)
			}
			vals, err := c.GetTagValues(ctx, &rgt.GetTagValuesInput{Key: aws.String("team")})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(vals.TagValues, []string{}); diff != "" {
				t.Errorf("GetTagValues (-got +want):\n%s", diff)
			}
			out, err := c.TagResources(ctx, &rgt.TagResourcesInput{ResourceARNList: []string{claims}, Tags: map[string]string{"team": "x"}})
			if err != nil {
				t.Fatal(err)
			}
			if f, ok := out.FailedResourcesMap[claims]; !ok || f.StatusCode == 200 {
				t.Errorf("tagging another account's profile: %v", out.FailedResourcesMap)
			}
			if got := teamOf(claims); got != "claims" {
				t.Errorf("claims profile's team is %q after another account tagged it", got)
			}
		})
	}
}

// cliAs runs a tollgate admin command with the given access key.
func (ts *testServer) cliAs(t *testing.T, key, secret string, out any, args ...string) error {
	t.Helper()
	credFile := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(credFile, []byte("[default]\naws_access_key_id = "+key+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	args = append(args[:2:2], append([]string{"--endpoint", ts.URL(), "--credentials", credFile, "--data-dir", t.TempDir()}, args[2:]...)...)
	err := run(t.Context(), args, &buf, io.Discard, func(string) string { return "" })
	if err == nil && out != nil {
		if jerr := json.Unmarshal(buf.Bytes(), out); jerr != nil {
			t.Fatalf("tollgate %s: output %q: %v", strings.Join(args, " "), buf.String(), jerr)
		}
	}
	return err
}

// TestAdminAPIAuthorizesOnTargets is the regression test of the admin
// API's escalation to root: admin actions are authorized on the target's
// ARN, the root's credentials are managed by the root alone, no principal
// changes its own tags or policies, and only the management account's
// root reaches into another account.
func TestAdminAPIAuthorizesOnTargets(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	const mgmt, dev = "123456789012", "210987654321"
	rootID := "root-" + mgmt
	ts.mustCLI(t, nil, "accounts", "create", "--id", dev, "--name", "dev")
	for name, doc := range map[string]string{
		"keys-only": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
		  "Action": ["tollgate:CreateAccessKey", "tollgate:ListAccessKeys", "tollgate:UpdateAccessKey", "tollgate:CreateAPIKey", "tollgate:RevokeAPIKey"], "Resource": "*"}]}`,
		"service-keys": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
		  "Action": "tollgate:CreateAccessKey", "Resource": "arn:aws:iam::*:user/svc-*"}]}`,
		"iam-admin":    `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "tollgate:*", "Resource": "*"}]}`,
		"deny-profile": `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "bedrock:DeleteInferenceProfile", "Resource": "*"}]}`,
		"admin":        adminPolicy,
	} {
		ts.putPolicy(t, mgmt, name, doc)
	}
	_, eveKey, eveSecret := ts.newUser(t, mgmt, "eve", []string{"keys-only", "service-keys"})
	ianID, ianKey, ianSecret := ts.newUser(t, mgmt, "ian", []string{"iam-admin", "deny-profile"}, "team", "platform")
	bobID, _, _ := ts.newUser(t, mgmt, "bob", nil)
	svcID, _, _ := ts.newUser(t, mgmt, "svc-batch", nil)
	ts.newUser(t, dev, "dave", nil)

	denied := func(t *testing.T, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("got %v, want AccessDeniedException", err)
		}
	}
	allowed := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("denied: %v", err)
		}
	}
	eve := func(args ...string) error { return ts.cliAs(t, eveKey, eveSecret, nil, args...) }
	ian := func(args ...string) error { return ts.cliAs(t, ianKey, ianSecret, nil, args...) }
	for _, tc := range []struct {
		name  string
		err   func() error
		check func(*testing.T, error)
	}{
		{"eve mints a key for the root", func() error { return eve("keys", "create", "--principal", rootID) }, denied},
		{"eve mints an API key for the root", func() error { return eve("keys", "create-api-key", "--principal", rootID) }, denied},
		{"eve lists the root's keys", func() error { return eve("keys", "list", "--principal", rootID) }, denied},
		{"eve deactivates the root's key", func() error { return eve("keys", "deactivate", ts.RootAccessKeyID) }, denied},
		{"eve mints a key for bob (allowed on *)", func() error { return eve("keys", "create", "--principal", bobID) }, allowed},
		{"ian mints a key for the root", func() error { return ian("keys", "create", "--principal", rootID) }, denied},
		{"ian attaches admin to himself", func() error { return ian("policies", "attach", "--principal", ianID, "--policy", "admin") }, denied},
		{"ian detaches his deny from himself", func() error { return ian("policies", "detach", "--principal", ianID, "--policy", "deny-profile") }, denied},
		{"ian rewrites a policy attached to himself", func() error {
			f := filepath.Join(t.TempDir(), "p.json")
			if err := os.WriteFile(f, []byte(adminPolicy), 0o600); err != nil {
				t.Fatal(err)
			}
			return ian("policies", "put", "--account", mgmt, "--name", "deny-profile", "--file", f)
		}, denied},
		{"ian retags himself", func() error {
			return ian("principals", "create", "--account", mgmt, "--name", "ian", "--tag", "team=claims")
		}, denied},
		{"ian attaches admin to bob", func() error { return ian("policies", "attach", "--principal", bobID, "--policy", "admin") }, allowed},
		{"ian lists another account's principals", func() error { return ian("principals", "list", "--account", dev) }, denied},
		{"ian creates a principal in another account", func() error {
			return ian("principals", "create", "--account", dev, "--name", "mole")
		}, denied},
		{"ian mints a key for another account's user", func() error {
			return ian("keys", "create", "--principal", "user-"+dev+"-dave")
		}, denied},
		{"ian creates an account", func() error { return ian("accounts", "create", "--id", "333333333333", "--name", "x") }, denied},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, tc.err()) })
	}

	t.Run("keys scoped by target ARN", func(t *testing.T) {
		// service-keys allows minting keys for svc-* users only; eve's
		// keys-only grant on * already covers bob, so check with a fresh
		// principal holding service-keys alone.
		_, k, s := ts.newUser(t, mgmt, "kim", []string{"service-keys"})
		allowed(t, ts.cliAs(t, k, s, nil, "keys", "create", "--principal", svcID))
		denied(t, ts.cliAs(t, k, s, nil, "keys", "create", "--principal", bobID))
	})

	t.Run("the root still works and manages its own keys", func(t *testing.T) {
		var k struct {
			ID string `json:"accessKeyId"`
		}
		ts.mustCLI(t, &k, "keys", "create", "--principal", rootID)
		ts.mustCLI(t, nil, "keys", "deactivate", k.ID)
		if _, err := ts.bedrock(t).ListInferenceProfiles(t.Context(), &bedrock.ListInferenceProfilesInput{}); err != nil {
			t.Errorf("root after managing its keys: %v", err)
		}
	})
}
