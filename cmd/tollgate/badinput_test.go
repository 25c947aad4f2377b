package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// signedRequest builds a request to ts signed by the root key the way the
// SDK signs (service "bedrock", region us-east-1). path may carry a query
// and percent-escapes, which are sent as written.
func signedRequest(t *testing.T, ts *testServer, method, path string, body []byte, chunked bool) *http.Request {
	t.Helper()
	u, err := url.Parse(ts.URL() + path)
	if err != nil {
		t.Fatalf("url %q: %v", path, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u.String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	req.Header.Set("Content-Type", "application/json")
	if chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	err = v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: ts.RootAccessKeyID, SecretAccessKey: ts.RootSecretAccessKey},
		req, sha256Hex(body), "bedrock", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// checkAWSError fails t unless resp is the restJson1 error the SDKs parse:
// the given status, X-Amzn-ErrorType naming the exception, a JSON body
// with the same "__type" and a non-empty "message", and a request id.
func checkAWSError(t *testing.T, status int, header http.Header, body []byte, wantStatus int, wantType string) {
	t.Helper()
	if status >= 500 {
		t.Errorf("status %d (a server error for bad input); body %s", status, body)
	}
	if status != wantStatus || header.Get("X-Amzn-ErrorType") != wantType {
		t.Errorf("got %d %q, want %d %q; body %s", status, header.Get("X-Amzn-ErrorType"), wantStatus, wantType, body)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not a JSON object: %v", body, err)
	}
	if e["__type"] != wantType {
		t.Errorf("__type %v, want %q", e["__type"], wantType)
	}
	if msg, ok := e["message"].(string); !ok || msg == "" {
		t.Errorf("message %v, want a non-empty string", e["message"])
	}
	if header.Get("X-Amzn-RequestId") == "" {
		t.Error("no X-Amzn-RequestId")
	}
}

// TestBadInput sends hand-made, correctly signed requests that are wrong
// in every other way: each must be answered with the AWS error shape and a
// 4xx status, and leave nothing behind.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	c := ts.bedrock(t)
	profileARN := createProfile(t, c, "bad-input", haikuARN, tagList("dept", "claims")...)
	profileID := profileARN[strings.LastIndex(profileARN, "/")+1:]
	otherRegion := strings.Replace(profileARN, ":us-east-1:", ":eu-west-1:", 1)
	otherAccount := strings.Replace(profileARN, ":123456789012:", ":210987654321:", 1)
	converse := "/model/" + url.PathEscape(haikuID) + "/converse"

	big := append(append([]byte(`{"inferenceProfileName":"`), bytes.Repeat([]byte("a"), 1<<20)...), `"}`...)

	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		chunked      bool
		status       int
		errType      string
	}{
		{"malformed JSON", "POST", "/inference-profiles", `{"inferenceProfileName": ,}`, false, 400, "ValidationException"},
		{"truncated JSON", "POST", "/inference-profiles", `{"inferenceProfileName":"x","modelSource":{"copyFrom":"arn:aws:bed`, false, 400, "ValidationException"},
		{"JSON array", "POST", "/listTagsForResource", `[{"resourceARN":"` + profileARN + `"}]`, false, 400, "ValidationException"},
		{"JSON string", "POST", "/tagResource", `"tags"`, false, 400, "ValidationException"},
		{"name is a number", "POST", "/inference-profiles", `{"inferenceProfileName":42,"modelSource":{"copyFrom":"` + haikuARN + `"}}`, false, 400, "ValidationException"},
		{"tags is a string", "POST", "/inference-profiles", `{"inferenceProfileName":"x","modelSource":{"copyFrom":"` + haikuARN + `"},"tags":"dept=claims"}`, false, 400, "ValidationException"},
		{"tag resource tags is a string", "POST", "/tagResource", `{"resourceARN":"` + profileARN + `","tags":"dept=sales"}`, false, 400, "ValidationException"},
		{"tag keys are numbers", "POST", "/untagResource", `{"resourceARN":"` + profileARN + `","tagKeys":[1,2]}`, false, 400, "ValidationException"},
		{"trailing garbage", "POST", "/listTagsForResource", `{"resourceARN":"` + profileARN + `"} garbage`, false, 400, "ValidationException"},
		{"two objects", "POST", "/listTagsForResource", `{"resourceARN":"` + profileARN + `"}{}`, false, 400, "ValidationException"},
		{"body over 1 MiB", "POST", "/inference-profiles", string(big), false, 400, "ValidationException"},
		{"chunked body over 1 MiB", "POST", "/inference-profiles", string(big), true, 400, "ValidationException"},
		{"unknown path", "POST", "/inference-profile", `{}`, false, 404, "UnknownOperationException"},
		{"unknown nested path", "GET", "/foundation-models/" + url.PathEscape(haikuID) + "/versions", ``, false, 404, "UnknownOperationException"},
		{"wrong method on create", "PUT", "/inference-profiles", `{}`, false, 404, "UnknownOperationException"},
		{"wrong method on tagging", "GET", "/tagResource", ``, false, 404, "UnknownOperationException"},
		{"wrong method on a model", "DELETE", "/foundation-models/" + url.PathEscape(haikuID), ``, false, 404, "UnknownOperationException"},
		{"dot segments", "GET", "/inference-profiles/../foundation-models", ``, false, 404, "UnknownOperationException"},
		{"resourceARN not an ARN", "POST", "/listTagsForResource", `{"resourceARN":"application-inference-profile/` + profileID + `"}`, false, 400, "ValidationException"},
		{"resourceARN of another service", "POST", "/tagResource", `{"resourceARN":"arn:aws:s3:us-east-1:123456789012:bucket/x","tags":[{"key":"a","value":"b"}]}`, false, 400, "ValidationException"},
		{"resourceARN with a bad account", "POST", "/listTagsForResource", `{"resourceARN":"arn:aws:bedrock:us-east-1:12345:application-inference-profile/` + profileID + `"}`, false, 400, "ValidationException"},
		{"resourceARN is null", "POST", "/untagResource", `{"resourceARN":null,"tagKeys":["dept"]}`, false, 400, "ValidationException"},
		{"resourceARN of another region", "POST", "/tagResource", `{"resourceARN":"` + otherRegion + `","tags":[{"key":"a","value":"b"}]}`, false, 400, "ValidationException"},
		{"resourceARN of another account", "POST", "/listTagsForResource", `{"resourceARN":"` + otherAccount + `"}`, false, 404, "ResourceNotFoundException"},
		{"copyFrom of another region", "POST", "/inference-profiles", `{"inferenceProfileName":"x","modelSource":{"copyFrom":"arn:aws:bedrock:eu-west-1::foundation-model/` + haikuID + `"}}`, false, 400, "ValidationException"},
		{"path identifier not an ARN", "GET", "/inference-profiles/" + url.PathEscape("arn:aws:bedrock:us-east-1:123456789012"), ``, false, 400, "ValidationException"},
		{"path identifier of another region", "GET", "/inference-profiles/" + url.PathEscape(otherRegion), ``, false, 400, "ValidationException"},
		{"path identifier of another account", "DELETE", "/inference-profiles/" + url.PathEscape(otherAccount), ``, false, 404, "ResourceNotFoundException"},
		{"path identifier with bad characters", "GET", "/inference-profiles/" + url.PathEscape("abc def!"), ``, false, 400, "ValidationException"},
		{"model ARN of another service", "GET", "/foundation-models/" + url.PathEscape("arn:aws:s3:::bucket"), ``, false, 400, "ValidationException"},
		{"invalid UTF-8 escape in the path", "GET", "/inference-profiles/%ff%fe", ``, false, 400, "ValidationException"},
		{"NUL escape in the path", "GET", "/foundation-models/%00", ``, false, 404, "ResourceNotFoundException"},
		{"converse messages is a string", "POST", converse, `{"messages":"hello"}`, false, 400, "ValidationException"},
		{"converse content is a string", "POST", converse, `{"messages":[{"role":"user","content":"hello"}]}`, false, 400, "ValidationException"},
		{"converse messages is an object", "POST", converse, `{"messages":{"role":"user"}}`, false, 400, "ValidationException"},
		{"converse body is an array", "POST", converse, `[{"role":"user","content":[{"text":"hi"}]}]`, false, 400, "ValidationException"},
		{"converse truncated", "POST", converse, `{"messages":[{"role":"user","content":[{"text":"hi"`, false, 400, "ValidationException"},
		{"converse model ARN of another region", "POST", "/model/" + url.PathEscape("arn:aws:bedrock:eu-west-1::foundation-model/"+haikuID) + "/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, false, 400, "ValidationException"},
		{"converse profile of another account", "POST", "/model/" + url.PathEscape(otherAccount) + "/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, false, 404, "ResourceNotFoundException"},
		{"converse-stream bad body", "POST", "/model/" + url.PathEscape(profileARN) + "/converse-stream", `{"messages":[{"role":"user","content":[{"text":1}]}]}`, false, 400, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(signedRequest(t, ts, tc.method, tc.path, []byte(tc.body), tc.chunked))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			checkAWSError(t, resp.StatusCode, resp.Header, body, tc.status, tc.errType)
		})
	}

	// Nothing above changed the one profile or created another.
	list, err := c.ListInferenceProfiles(t.Context(), &bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.InferenceProfileSummaries) != 1 || aws.ToString(list.InferenceProfileSummaries[0].InferenceProfileArn) != profileARN {
		t.Errorf("after bad input, profiles = %+v, want just %s", list.InferenceProfileSummaries, profileARN)
	}
	tags, err := c.ListTagsForResource(t.Context(), &bedrock.ListTagsForResourceInput{ResourceARN: aws.String(profileARN)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "dept" || aws.ToString(tags.Tags[0].Value) != "claims" {
		t.Errorf("after bad input, tags = %+v, want dept=claims", tags.Tags)
	}
}

// TestMalformedRequestTargets sends request targets with malformed
// percent-escapes, which no URL parser accepts, over a raw connection.
// net/http rejects them while reading the request line, before any
// Tollgate handler runs, so they cannot carry the AWS error shape or a
// request id; what must hold is a plain 400 (never a 5xx or a hang) and a
// server that keeps serving. Escapes that do decode, even to invalid UTF-8
// or NUL, reach Tollgate and are checked in TestBadInput.
func TestMalformedRequestTargets(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	host := strings.TrimPrefix(ts.URL(), "http://")
	for _, target := range []string{"/inference-profiles/%zz", "/model/anthropic%2/converse", "/foundation-models/%", "/listTagsForResource%G0"} {
		t.Run(target, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(conn, "POST "+target+" HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400; body %q", resp.StatusCode, body)
			}
		})
	}
	// The server still answers well-formed requests.
	resp, err := http.DefaultClient.Do(signedRequest(t, ts, "GET", "/foundation-models/"+url.PathEscape(haikuID), nil, false))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GetFoundationModel after malformed requests = %d, want 200", resp.StatusCode)
	}
}

// TestOutOfRangeInferenceParameters sends, through the official SDK
// client, inference parameters and content formats Bedrock refuses with
// ValidationException, and a CBOR body with data after its map.
func TestOutOfRangeInferenceParameters(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	rc := ts.runtime(t)
	ctx := t.Context()
	f := func(v float32) *float32 { return &v }
	png := []byte("\x89PNG\r\n\x1a\n")
	for _, tc := range []struct {
		name    string
		in      *bedrockruntime.ConverseInput
		wantMsg string
	}{
		{"temperature 7.5", &bedrockruntime.ConverseInput{InferenceConfig: &rt.InferenceConfiguration{Temperature: f(7.5)}},
			"1 validation error detected: Value '7.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{"temperature -0.1", &bedrockruntime.ConverseInput{InferenceConfig: &rt.InferenceConfiguration{Temperature: f(-0.1)}},
			"1 validation error detected: Value '-0.1' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"topP -3", &bedrockruntime.ConverseInput{InferenceConfig: &rt.InferenceConfiguration{TopP: f(-3)}},
			"1 validation error detected: Value '-3.0' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"maxTokens 0", &bedrockruntime.ConverseInput{InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(0)}},
			"1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"two errors", &bedrockruntime.ConverseInput{InferenceConfig: &rt.InferenceConfiguration{Temperature: f(2), TopP: f(1.5)}},
			"2 validation errors detected: Value '2.0' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1; Value '1.5' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{"empty stop sequence", &bedrockruntime.ConverseInput{InferenceConfig: &rt.InferenceConfiguration{StopSequences: []string{"END", ""}}},
			"Value '' at 'inferenceConfig.stopSequences.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"image format exe", &bedrockruntime.ConverseInput{Messages: []rt.Message{{Role: rt.ConversationRoleUser, Content: []rt.ContentBlock{
			&rt.ContentBlockMemberText{Value: "look"},
			&rt.ContentBlockMemberImage{Value: rt.ImageBlock{Format: "exe", Source: &rt.ImageSourceMemberBytes{Value: png}}}}}}},
			"1 validation error detected: Value 'exe' at 'messages.1.member.content.2.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [png, jpeg, gif, webp]"},
		{"document format exe", &bedrockruntime.ConverseInput{Messages: []rt.Message{{Role: rt.ConversationRoleUser, Content: []rt.ContentBlock{
			&rt.ContentBlockMemberDocument{Value: rt.DocumentBlock{Format: "exe", Name: aws.String("d"), Source: &rt.DocumentSourceMemberBytes{Value: []byte("x")}}}}}}},
			"Value 'exe' at 'messages.1.member.content.1.member.document.format' failed to satisfy constraint: Member must satisfy enum value set: [pdf, csv, doc, docx, xls, xlsx, html, txt, md]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := *tc.in
			in.ModelId = aws.String(haikuID)
			if in.Messages == nil {
				in.Messages = userText("hi")
			}
			_, err := rc.Converse(ctx, &in)
			if errorCode(err) != "ValidationException" {
				t.Fatalf("Converse = %v, want ValidationException", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q lacks %q", err, tc.wantMsg)
			}
			// ConverseStream refuses it the same way, before any event.
			_, err = rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
			if errorCode(err) != "ValidationException" {
				t.Errorf("ConverseStream = %v, want ValidationException", err)
			}
		})
	}

	// The native Anthropic body of InvokeModel.
	for _, tc := range []struct{ name, params, wantMsg string }{
		{"temperature 7.5", `"temperature":7.5`, "#/temperature: 7.5 is not less or equal to 1"},
		{"top_p -3", `"top_p":-3`, "#/top_p: -3 is not greater or equal to 0"},
		{"top_p 1.5", `"top_p":1.5`, "#/top_p: 1.5 is not less or equal to 1"},
		{"top_k -1", `"top_k":-1`, "#/top_k: -1 is not greater or equal to 0"},
		{"max_tokens 0", `"max_tokens":0`, "#/max_tokens: 0 is not greater or equal to 1"},
	} {
		t.Run("InvokeModel "+tc.name, func(t *testing.T) {
			body := `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"hi"}],` + tc.params
			if !strings.Contains(tc.params, "max_tokens") {
				body += `,"max_tokens":10`
			}
			_, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(haikuID), Body: []byte(body + "}"), ContentType: aws.String("application/json")})
			if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("InvokeModel = %v, want ValidationException with %q", err, tc.wantMsg)
			}
		})
	}

	// A Smithy RPC v2 CBOR request (CloudWatch, as the Go SDK sends it)
	// with bytes after its map; the same map alone is answered.
	cbor := []byte{0xa0} // {}
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"CBOR map alone", cbor, 200},
		{"CBOR trailing byte", append(cbor, 0x00), 400},
		{"CBOR two maps", append(cbor, 0xa0), 400},
		{"CBOR truncated map", []byte{0xa1, 0x61}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, "POST", ts.URL()+"/service/GraniteServiceVersion20100801/operation/ListMetrics", bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/cbor")
			req.Header.Set("Accept", "application/cbor")
			req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
			if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: ts.RootAccessKeyID, SecretAccessKey: ts.RootSecretAccessKey},
				req, sha256Hex(tc.body), "monitoring", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
