package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/api/bedrockapi"
	"github.com/tollgate-dev/tollgate/internal/api/budgetsapi"
	"github.com/tollgate-dev/tollgate/internal/api/ceapi"
	"github.com/tollgate-dev/tollgate/internal/api/cloudwatchapi"
	"github.com/tollgate-dev/tollgate/internal/api/runtimeapi"
	"github.com/tollgate-dev/tollgate/internal/api/taggingapi"
)

// answer is what the class test reads of a response: whether the call was
// denied as a whole, and the ARNs a tagging batch reported denied.
type answer struct {
	denied    bool
	detail    string
	batchDeny []string
}

// signedCaller sends raw SigV4-signed requests, the way the SDKs do, so
// one table can reach every operation of every API.
type signedCaller struct {
	t      *testing.T
	base   string
	region string
	creds  aws.Credentials
}

func (c signedCaller) do(signing, method, path string, header http.Header, body []byte) answer {
	t := c.t
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, c.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(t.Context(), c.creds, req, hex.EncodeToString(sum[:]), signing, c.region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	typ := resp.Header.Get("X-Amzn-ErrorType")
	a := answer{denied: strings.Contains(typ, "AccessDenied"), detail: resp.Status + " " + typ + " " + string(data)}
	var failed struct {
		FailedResourcesMap map[string]struct{ StatusCode int }
	}
	if json.Unmarshal(data, &failed) == nil {
		for arn, f := range failed.FailedResourcesMap {
			if f.StatusCode == http.StatusForbidden {
				a.batchDeny = append(a.batchDeny, arn)
			}
		}
	}
	return a
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// awsJSON calls an awsJson operation.
func (c signedCaller) awsJSON(signing, target, version string, in any) answer {
	h := http.Header{"X-Amz-Target": {target}, "Content-Type": {"application/x-amz-json-" + version}}
	return c.do(signing, http.MethodPost, "/", h, mustJSON(in))
}

// rest calls a restJson operation of Bedrock or the admin API.
func (c signedCaller) rest(signing, method, path string, in any) answer {
	var body []byte
	h := http.Header{}
	if in != nil {
		body = mustJSON(in)
		h.Set("Content-Type", "application/json")
	}
	return c.do(signing, method, path, h, body)
}

// authzCase is one operation of the class test: the action and resource
// it must authorize on, and a call of it touching that resource.
type authzCase struct {
	api, op  string
	action   string
	resource string
	// batch marks the Tagging API's batch operations, which report a
	// denied resource in FailedResourcesMap instead of failing.
	batch bool
	call  func(c signedCaller) answer
}

// TestAuthorizationClass walks every registered operation of every API
// and proves it authorizes on the resource it touches: as a principal
// allowed everything but the one action on the one resource, the call is
// denied; without that deny it is not.
func TestAuthorizationClass(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	const acct, region = "123456789012", "us-east-1"

	// Fixtures, made by the root.
	prof := createProfile(t, ts.bedrock(t), "probe-target", haikuARN, tagList("team", "a")...)
	profID := prof[strings.LastIndex(prof, "/")+1:]
	ts.putPolicy(t, acct, "pol", `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:List*", "Resource": "*"}]}`)
	bobID, bobKey, _ := ts.newUser(t, acct, "bob", []string{"pol"})
	var bobAPIKey struct {
		Token string `json:"apiKey"`
	}
	ts.mustCLI(t, &bobAPIKey, "keys", "create-api-key", "--principal", bobID)
	var keys struct {
		APIKeys []struct {
			ID string `json:"accessKeyId"`
		} `json:"apiKeys"`
	}
	ts.mustCLI(t, &keys, "keys", "list", "--principal", bobID)
	if len(keys.APIKeys) != 1 {
		t.Fatalf("bob's API keys: %+v", keys)
	}
	bobAPIKeyID := keys.APIKeys[0].ID
	const allowAll = `{"Effect": "Allow", "Action": "*", "Resource": "*"}`
	ts.putPolicy(t, acct, "probe", `{"Version": "2012-10-17", "Statement": [`+allowAll+`]}`)
	_, key, secret := ts.newUser(t, acct, "prober", []string{"probe"})
	creds, _ := credentials.NewStaticCredentialsProvider(key, secret, "").Retrieve(ctx)
	caller := signedCaller{t: t, base: ts.URL(), region: region, creds: creds}

	bedrockARN := func(s string) string { return "arn:aws:bedrock:" + region + ":" + acct + ":" + s }
	alarmARN := func(name string) string { return "arn:aws:cloudwatch:" + region + ":" + acct + ":alarm:" + name }
	budgetARN := "arn:aws:budgets::" + acct + ":budget/bu"
	monitor := "arn:aws:ce::" + acct + ":anomalymonitor/m1"
	subscription := "arn:aws:ce::" + acct + ":anomalysubscription/s1"
	user := func(name string) string { return "arn:aws:iam::" + acct + ":user/" + name }
	converse := map[string]any{"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": "hi"}}}}}
	invokeBody := map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": []any{map[string]any{"role": "user", "content": "hi"}}}
	model := "/model/" + url.PathEscape(prof)

	br := func(method, path string, in any) func(signedCaller) answer {
		return func(c signedCaller) answer { return c.rest("bedrock", method, path, in) }
	}
	adm := func(method, path string, in any) func(signedCaller) answer {
		return func(c signedCaller) answer { return c.rest(adminapi.SigningName, method, path, in) }
	}
	rpc := func(signing, service, version string) func(op string, in any) func(signedCaller) answer {
		return func(op string, in any) func(signedCaller) answer {
			return func(c signedCaller) answer { return c.awsJSON(signing, service+"."+op, version, in) }
		}
	}
	tagJSON := rpc("tagging", taggingapi.ServiceName, "1.1")
	ce := rpc(ceapi.SigningName, ceapi.ServiceName, "1.1")
	bud := rpc(budgetsapi.SigningName, budgetsapi.ServiceName, "1.1")
	cw := rpc(cloudwatchapi.SigningName, cloudwatchapi.ServiceName, "1.0")
	tagCBOR := func(op string) func(signedCaller) answer {
		return func(c signedCaller) answer {
			client := ts.tagging(t, func(o *rgt.Options) { o.Credentials = credentials.StaticCredentialsProvider{Value: c.creds} })
			var err error
			var failed []string
			switch op {
			case "GetResources":
				_, err = client.GetResources(ctx, &rgt.GetResourcesInput{})
			case "GetTagKeys":
				_, err = client.GetTagKeys(ctx, &rgt.GetTagKeysInput{})
			case "GetTagValues":
				_, err = client.GetTagValues(ctx, &rgt.GetTagValuesInput{Key: aws.String("team")})
			case "TagResources":
				var out *rgt.TagResourcesOutput
				if out, err = client.TagResources(ctx, &rgt.TagResourcesInput{ResourceARNList: []string{prof}, Tags: map[string]string{"x": "y"}}); err == nil {
					for a, f := range out.FailedResourcesMap {
						if f.StatusCode == http.StatusForbidden {
							failed = append(failed, a)
						}
					}
				}
			case "UntagResources":
				var out *rgt.UntagResourcesOutput
				if out, err = client.UntagResources(ctx, &rgt.UntagResourcesInput{ResourceARNList: []string{prof}, TagKeys: []string{"x"}}); err == nil {
					for a, f := range out.FailedResourcesMap {
						if f.StatusCode == http.StatusForbidden {
							failed = append(failed, a)
						}
					}
				}
			default:
				t.Fatalf("no CBOR call for %s", op)
			}
			return answer{denied: strings.Contains(errorCode(err), "AccessDenied"), detail: errorCode(err), batchDeny: failed}
		}
	}
	budgetIn := map[string]any{"AccountId": acct, "BudgetName": "bu"}
	newBudget := map[string]any{"BudgetName": "bu", "BudgetType": "COST", "TimeUnit": "MONTHLY", "BudgetLimit": map[string]any{"Amount": "100", "Unit": "USD"}}

	// The table: every operation, the (action, resource) it must check,
	// and a call touching that resource. Deletions come last within their
	// API, since the allowed call really deletes.
	cases := []authzCase{
		{"bedrock", "CreateInferenceProfile", "bedrock:CreateInferenceProfile", bedrockARN("application-inference-profile/*"), false,
			br("POST", "/inference-profiles", map[string]any{"inferenceProfileName": "probe-new", "modelSource": map[string]any{"copyFrom": haikuARN}})},
		{"bedrock", "ListInferenceProfiles", "bedrock:ListInferenceProfiles", "*", false, br("GET", "/inference-profiles", nil)},
		{"bedrock", "GetInferenceProfile", "bedrock:GetInferenceProfile", prof, false, br("GET", "/inference-profiles/"+profID, nil)},
		{"bedrock", "TagResource", "bedrock:TagResource", prof, false, br("POST", "/tagResource", map[string]any{"resourceARN": prof, "tags": []any{map[string]any{"key": "x", "value": "y"}}})},
		{"bedrock", "UntagResource", "bedrock:UntagResource", prof, false, br("POST", "/untagResource", map[string]any{"resourceARN": prof, "tagKeys": []string{"x"}})},
		{"bedrock", "ListTagsForResource", "bedrock:ListTagsForResource", prof, false, br("POST", "/listTagsForResource", map[string]any{"resourceARN": prof})},
		{"bedrock", "ListFoundationModels", "bedrock:ListFoundationModels", "*", false, br("GET", "/foundation-models", nil)},
		{"bedrock", "GetFoundationModel", "bedrock:GetFoundationModel", haikuARN, false, br("GET", "/foundation-models/"+haikuID, nil)},

		{"runtime", "Converse", "bedrock:InvokeModel", prof, false, br("POST", model+"/converse", converse)},
		{"runtime", "ConverseStream", "bedrock:InvokeModelWithResponseStream", prof, false, br("POST", model+"/converse-stream", converse)},
		{"runtime", "InvokeModel", "bedrock:InvokeModel", prof, false, br("POST", model+"/invoke", invokeBody)},
		{"runtime", "InvokeModelWithResponseStream", "bedrock:InvokeModelWithResponseStream", prof, false, br("POST", model+"/invoke-with-response-stream", invokeBody)},

		{"tagging/json", "GetResources", "tag:GetResources", "*", false, tagJSON("GetResources", map[string]any{})},
		{"tagging/json", "GetTagKeys", "tag:GetTagKeys", "*", false, tagJSON("GetTagKeys", map[string]any{})},
		{"tagging/json", "GetTagValues", "tag:GetTagValues", "*", false, tagJSON("GetTagValues", map[string]any{"Key": "team"})},
		{"tagging/json", "TagResources", "tag:TagResources", "*", false, tagJSON("TagResources", map[string]any{"ResourceARNList": []string{prof}, "Tags": map[string]string{"x": "y"}})},
		{"tagging/json", "TagResources", "bedrock:TagResource", prof, true, tagJSON("TagResources", map[string]any{"ResourceARNList": []string{prof}, "Tags": map[string]string{"x": "y"}})},
		{"tagging/json", "UntagResources", "tag:UntagResources", "*", false, tagJSON("UntagResources", map[string]any{"ResourceARNList": []string{prof}, "TagKeys": []string{"x"}})},
		{"tagging/json", "UntagResources", "bedrock:UntagResource", prof, true, tagJSON("UntagResources", map[string]any{"ResourceARNList": []string{prof}, "TagKeys": []string{"x"}})},
		{"tagging/cbor", "GetResources", "tag:GetResources", "*", false, tagCBOR("GetResources")},
		{"tagging/cbor", "GetTagKeys", "tag:GetTagKeys", "*", false, tagCBOR("GetTagKeys")},
		{"tagging/cbor", "GetTagValues", "tag:GetTagValues", "*", false, tagCBOR("GetTagValues")},
		{"tagging/cbor", "TagResources", "tag:TagResources", "*", false, tagCBOR("TagResources")},
		{"tagging/cbor", "TagResources", "bedrock:TagResource", prof, true, tagCBOR("TagResources")},
		{"tagging/cbor", "UntagResources", "tag:UntagResources", "*", false, tagCBOR("UntagResources")},
		{"tagging/cbor", "UntagResources", "bedrock:UntagResource", prof, true, tagCBOR("UntagResources")},

		{"ce", "GetCostAndUsage", "ce:GetCostAndUsage", "*", false, ce("GetCostAndUsage", map[string]any{})},
		{"ce", "GetCostAndUsageWithResources", "ce:GetCostAndUsageWithResources", "*", false, ce("GetCostAndUsageWithResources", map[string]any{})},
		{"ce", "GetDimensionValues", "ce:GetDimensionValues", "*", false, ce("GetDimensionValues", map[string]any{})},
		{"ce", "GetTags", "ce:GetTags", "*", false, ce("GetTags", map[string]any{})},
		{"ce", "GetCostForecast", "ce:GetCostForecast", "*", false, ce("GetCostForecast", map[string]any{})},
		{"ce", "CreateAnomalyMonitor", "ce:CreateAnomalyMonitor", "*", false, ce("CreateAnomalyMonitor", map[string]any{})},
		{"ce", "GetAnomalyMonitors", "ce:GetAnomalyMonitors", monitor, false, ce("GetAnomalyMonitors", map[string]any{"MonitorArnList": []string{monitor}})},
		{"ce", "UpdateAnomalyMonitor", "ce:UpdateAnomalyMonitor", monitor, false, ce("UpdateAnomalyMonitor", map[string]any{"MonitorArn": monitor, "MonitorName": "n"})},
		{"ce", "GetAnomalies", "ce:GetAnomalies", monitor, false, ce("GetAnomalies", map[string]any{"MonitorArn": monitor, "DateInterval": map[string]any{"StartDate": "2025-01-01"}})},
		{"ce", "DeleteAnomalyMonitor", "ce:DeleteAnomalyMonitor", monitor, false, ce("DeleteAnomalyMonitor", map[string]any{"MonitorArn": monitor})},
		{"ce", "CreateAnomalySubscription", "ce:CreateAnomalySubscription", "*", false, ce("CreateAnomalySubscription", map[string]any{})},
		{"ce", "GetAnomalySubscriptions", "ce:GetAnomalySubscriptions", subscription, false, ce("GetAnomalySubscriptions", map[string]any{"SubscriptionArnList": []string{subscription}})},
		{"ce", "UpdateAnomalySubscription", "ce:UpdateAnomalySubscription", subscription, false, ce("UpdateAnomalySubscription", map[string]any{"SubscriptionArn": subscription})},
		{"ce", "DeleteAnomalySubscription", "ce:DeleteAnomalySubscription", subscription, false, ce("DeleteAnomalySubscription", map[string]any{"SubscriptionArn": subscription})},
		{"ce", "ProvideAnomalyFeedback", "ce:ProvideAnomalyFeedback", "*", false, ce("ProvideAnomalyFeedback", map[string]any{"AnomalyId": "a", "Feedback": "YES"})},

		{"budgets", "CreateBudget", "budgets:ModifyBudget", budgetARN, false, bud("CreateBudget", map[string]any{"AccountId": acct, "Budget": newBudget})},
		{"budgets", "DescribeBudget", "budgets:ViewBudget", budgetARN, false, bud("DescribeBudget", budgetIn)},
		{"budgets", "DescribeBudgets", "budgets:ViewBudget", "arn:aws:budgets::" + acct + ":budget/*", false, bud("DescribeBudgets", map[string]any{"AccountId": acct})},
		{"budgets", "UpdateBudget", "budgets:ModifyBudget", budgetARN, false, bud("UpdateBudget", map[string]any{"AccountId": acct, "NewBudget": newBudget})},
		{"budgets", "CreateNotification", "budgets:ModifyBudget", budgetARN, false, bud("CreateNotification", budgetIn)},
		{"budgets", "UpdateNotification", "budgets:ModifyBudget", budgetARN, false, bud("UpdateNotification", budgetIn)},
		{"budgets", "DeleteNotification", "budgets:ModifyBudget", budgetARN, false, bud("DeleteNotification", budgetIn)},
		{"budgets", "DescribeNotificationsForBudget", "budgets:ViewBudget", budgetARN, false, bud("DescribeNotificationsForBudget", budgetIn)},
		{"budgets", "CreateSubscriber", "budgets:ModifyBudget", budgetARN, false, bud("CreateSubscriber", budgetIn)},
		{"budgets", "UpdateSubscriber", "budgets:ModifyBudget", budgetARN, false, bud("UpdateSubscriber", budgetIn)},
		{"budgets", "DeleteSubscriber", "budgets:ModifyBudget", budgetARN, false, bud("DeleteSubscriber", budgetIn)},
		{"budgets", "DescribeSubscribersForNotification", "budgets:ViewBudget", budgetARN, false, bud("DescribeSubscribersForNotification", budgetIn)},
		{"budgets", "DescribeBudgetNotificationsForAccount", "budgets:ViewBudget", "arn:aws:budgets::" + acct + ":budget/*", false, bud("DescribeBudgetNotificationsForAccount", map[string]any{"AccountId": acct})},
		{"budgets", "DescribeBudgetPerformanceHistory", "budgets:ViewBudget", budgetARN, false, bud("DescribeBudgetPerformanceHistory", budgetIn)},
		{"budgets", "CreateBudgetAction", "budgets:CreateBudgetAction", budgetARN, false, bud("CreateBudgetAction", budgetIn)},
		{"budgets", "DescribeBudgetAction", "budgets:DescribeBudgetAction", budgetARN, false, bud("DescribeBudgetAction", budgetIn)},
		{"budgets", "DescribeBudgetActionsForBudget", "budgets:DescribeBudgetActionsForBudget", budgetARN, false, bud("DescribeBudgetActionsForBudget", budgetIn)},
		{"budgets", "DescribeBudgetActionsForAccount", "budgets:DescribeBudgetActionsForAccount", "arn:aws:budgets::" + acct + ":budget/*", false, bud("DescribeBudgetActionsForAccount", map[string]any{"AccountId": acct})},
		{"budgets", "UpdateBudgetAction", "budgets:UpdateBudgetAction", budgetARN, false, bud("UpdateBudgetAction", budgetIn)},
		{"budgets", "DeleteBudgetAction", "budgets:DeleteBudgetAction", budgetARN, false, bud("DeleteBudgetAction", budgetIn)},
		{"budgets", "DescribeBudgetActionHistories", "budgets:DescribeBudgetActionHistories", budgetARN, false, bud("DescribeBudgetActionHistories", budgetIn)},
		{"budgets", "DeleteBudget", "budgets:ModifyBudget", budgetARN, false, bud("DeleteBudget", budgetIn)},

		{"cloudwatch", "GetMetricData", "cloudwatch:GetMetricData", "*", false, cw("GetMetricData", map[string]any{})},
		{"cloudwatch", "GetMetricStatistics", "cloudwatch:GetMetricStatistics", "*", false, cw("GetMetricStatistics", map[string]any{})},
		{"cloudwatch", "ListMetrics", "cloudwatch:ListMetrics", "*", false, cw("ListMetrics", map[string]any{})},
		{"cloudwatch", "DescribeAlarmsForMetric", "cloudwatch:DescribeAlarmsForMetric", "*", false, cw("DescribeAlarmsForMetric", map[string]any{})},
		{"cloudwatch", "PutMetricAlarm", "cloudwatch:PutMetricAlarm", alarmARN("al"), false, cw("PutMetricAlarm", map[string]any{"AlarmName": "al"})},
		{"cloudwatch", "DescribeAlarms", "cloudwatch:DescribeAlarms", alarmARN("al"), false, cw("DescribeAlarms", map[string]any{"AlarmNames": []string{"al"}})},
		{"cloudwatch", "DescribeAlarmHistory", "cloudwatch:DescribeAlarmHistory", alarmARN("al"), false, cw("DescribeAlarmHistory", map[string]any{"AlarmName": "al"})},
		{"cloudwatch", "EnableAlarmActions", "cloudwatch:EnableAlarmActions", alarmARN("al"), false, cw("EnableAlarmActions", map[string]any{"AlarmNames": []string{"al"}})},
		{"cloudwatch", "DisableAlarmActions", "cloudwatch:DisableAlarmActions", alarmARN("al"), false, cw("DisableAlarmActions", map[string]any{"AlarmNames": []string{"al"}})},
		{"cloudwatch", "SetAlarmState", "cloudwatch:SetAlarmState", alarmARN("al"), false, cw("SetAlarmState", map[string]any{"AlarmName": "al", "StateValue": "OK", "StateReason": "r"})},
		{"cloudwatch", "DeleteAlarms", "cloudwatch:DeleteAlarms", alarmARN("al"), false, cw("DeleteAlarms", map[string]any{"AlarmNames": []string{"al"}})},

		{"admin", "ListAccounts", "tollgate:ListAccounts", "*", false, adm("GET", "/tollgate/v1/accounts", nil)},
		{"admin", "CreateAccount", "tollgate:CreateAccount", "arn:aws:organizations::" + acct + ":account/" + acct, false,
			adm("POST", "/tollgate/v1/accounts", map[string]any{"accountId": acct, "name": "management"})},
		{"admin", "ListPrincipals", "tollgate:ListPrincipals", "arn:aws:iam::" + acct + ":*", false, adm("GET", "/tollgate/v1/principals", nil)},
		{"admin", "CreatePrincipal", "tollgate:CreatePrincipal", user("newbie"), false, adm("POST", "/tollgate/v1/principals", map[string]any{"name": "newbie"})},
		{"admin", "GetPrincipal", "tollgate:GetPrincipal", user("bob"), false, adm("GET", "/tollgate/v1/principals/"+bobID, nil)},
		{"admin", "CreateAccessKey", "tollgate:CreateAccessKey", user("bob"), false, adm("POST", "/tollgate/v1/principals/"+bobID+"/access-keys", nil)},
		{"admin", "ListAccessKeys", "tollgate:ListAccessKeys", user("bob"), false, adm("GET", "/tollgate/v1/principals/"+bobID+"/access-keys", nil)},
		{"admin", "UpdateAccessKey", "tollgate:UpdateAccessKey", user("bob"), false, adm("POST", "/tollgate/v1/access-keys/"+bobKey, map[string]any{"status": "Inactive"})},
		{"admin", "CreateAPIKey", "tollgate:CreateAPIKey", user("bob"), false, adm("POST", "/tollgate/v1/principals/"+bobID+"/api-keys", nil)},
		{"admin", "RevokeAPIKey", "tollgate:RevokeAPIKey", user("bob"), false, adm("DELETE", "/tollgate/v1/api-keys/"+bobAPIKeyID, nil)},
		{"admin", "ListPolicies", "tollgate:ListPolicies", "arn:aws:iam::" + acct + ":policy/*", false, adm("GET", "/tollgate/v1/policies", nil)},
		{"admin", "PutPolicy", "tollgate:PutPolicy", "arn:aws:iam::" + acct + ":policy/pol", false,
			func(c signedCaller) answer {
				return c.do(adminapi.SigningName, "PUT", "/tollgate/v1/policies/"+acct+"/pol", http.Header{},
					[]byte(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:List*", "Resource": "*"}]}`))
			}},
		{"admin", "DetachPolicy", "tollgate:DetachPolicy", user("bob"), false, adm("DELETE", "/tollgate/v1/principals/"+bobID+"/policies/pol", nil)},
		{"admin", "AttachPolicy", "tollgate:AttachPolicy", user("bob"), false, adm("POST", "/tollgate/v1/principals/"+bobID+"/policies", map[string]any{"policyName": "pol"})},
		{"admin", "GetProfileTiers", "tollgate:GetProfileTiers", prof, false, adm("GET", "/tollgate/v1/profile-tiers/"+profID, nil)},
		{"admin", "PutProfileTiers", "tollgate:PutProfileTiers", prof, false, adm("PUT", "/tollgate/v1/profile-tiers/"+profID, map[string]any{"maxTier": "default"})},
		{"admin", "GetModelRoutes", "tollgate:GetModelRoutes", prof, false, adm("GET", "/tollgate/v1/model-routes/"+profID, nil)},

		{"bedrock", "DeleteInferenceProfile", "bedrock:DeleteInferenceProfile", prof, false, br("DELETE", "/inference-profiles/"+profID, nil)},
	}

	// (a) The table covers exactly the registered operations.
	registered := map[string][]string{
		"admin": nil, "bedrock": nil, "runtime": nil, "tagging/json": taggingapi.Operations, "tagging/cbor": taggingapi.Operations,
		"ce": append(slices.Clone(ceapi.Operations), ceapi.AnomalyOperations...), "budgets": budgetsapi.Operations, "cloudwatch": cloudwatchapi.Operations,
	}
	for _, r := range adminapi.Routes() {
		registered["admin"] = append(registered["admin"], r.Op)
	}
	for _, r := range bedrockapi.Routes() {
		registered["bedrock"] = append(registered["bedrock"], r.Op)
	}
	for _, r := range runtimeapi.Routes() {
		registered["runtime"] = append(registered["runtime"], r.Op)
	}
	inTable := map[string]bool{}
	for _, c := range cases {
		inTable[c.api+" "+c.op] = true
	}
	for api, ops := range registered {
		for _, op := range ops {
			if !inTable[api+" "+op] {
				t.Errorf("%s operation %s is registered but has no entry in the authorization table", api, op)
			}
			delete(inTable, api+" "+op)
		}
	}
	for k := range inTable {
		t.Errorf("table entry %s names no registered operation", k)
	}

	// (b) Each entry is denied by a deny on exactly its action and
	// resource, and only by it.
	setPolicy := func(t *testing.T, deny string) {
		t.Helper()
		stmts := allowAll
		if deny != "" {
			stmts += "," + deny
		}
		ts.putPolicy(t, acct, "probe", `{"Version": "2012-10-17", "Statement": [`+stmts+`]}`)
	}
	for _, tc := range cases {
		t.Run(tc.api+"/"+tc.op+"/"+tc.action, func(t *testing.T) {
			setPolicy(t, string(mustJSON(map[string]any{"Effect": "Deny", "Action": tc.action, "Resource": tc.resource})))
			got := tc.call(caller)
			if tc.batch {
				if !slices.Contains(got.batchDeny, tc.resource) {
					t.Errorf("with %s denied on %s: no 403 failure for it (%s)", tc.action, tc.resource, got.detail)
				}
			} else if !got.denied {
				t.Errorf("with %s denied on %s: not AccessDenied (%s)", tc.action, tc.resource, got.detail)
			}
			setPolicy(t, "")
			got = tc.call(caller)
			if got.denied || len(got.batchDeny) > 0 {
				t.Errorf("with no deny: denied (%s)", got.detail)
			}
		})
	}
}
