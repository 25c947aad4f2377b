package sigv4_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

const profileARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh"

// seen records what the end-to-end server verified.
type seen struct {
	mu       sync.Mutex
	results  []sigv4.Result
	rawPaths []string
	queries  []string
}

func (s *seen) last() (sigv4.Result, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.results) == 0 {
		return sigv4.Result{}, "", ""
	}
	n := len(s.results) - 1
	return s.results[n], s.rawPaths[n], s.queries[n]
}

// bedrockAnswer answers the two control-plane operations with minimal valid
// bodies and records the verified request.
func (s *seen) bedrockAnswer(w http.ResponseWriter, r *http.Request, res sigv4.Result) {
	s.mu.Lock()
	s.results = append(s.results, res)
	s.rawPaths = append(s.rawPaths, r.URL.EscapedPath())
	s.queries = append(s.queries, r.URL.RawQuery)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/inference-profiles/"):
		w.Write([]byte(`{"inferenceProfileArn":"` + profileARN + `","inferenceProfileId":"abcd1234efgh","inferenceProfileName":"x","models":[],"status":"ACTIVE","type":"APPLICATION"}`))
	case r.Method == http.MethodGet && r.URL.Path == "/inference-profiles":
		w.Write([]byte(`{"inferenceProfileSummaries":[]}`))
	default:
		w.Write([]byte(`{}`))
	}
}

// TestVerifyBedrockClient drives a verifying server with the real Bedrock
// control-plane client, which signs with the current time.
func TestVerifyBedrockClient(t *testing.T) {
	var rec seen
	srv := verifyServer(t, &sigv4.Verifier{Keys: testKeys}, rec.bedrockAnswer)

	client := func(id, secret, token string) *bedrock.Client {
		return bedrock.New(bedrock.Options{
			Region:           "us-east-1",
			BaseEndpoint:     aws.String(srv.URL),
			Credentials:      credentials.NewStaticCredentialsProvider(id, secret, token),
			RetryMaxAttempts: 1,
			HTTPClient:       srv.Client(),
		})
	}
	get := func(c *bedrock.Client) error {
		out, err := c.GetInferenceProfile(t.Context(), &bedrock.GetInferenceProfileInput{
			InferenceProfileIdentifier: aws.String(profileARN),
		})
		if err == nil && aws.ToString(out.InferenceProfileArn) != profileARN {
			t.Errorf("InferenceProfileArn = %q, want %q", aws.ToString(out.InferenceProfileArn), profileARN)
		}
		return err
	}
	list := func(c *bedrock.Client) error {
		_, err := c.ListInferenceProfiles(t.Context(), &bedrock.ListInferenceProfilesInput{
			MaxResults: aws.Int32(5),
			NextToken:  aws.String("tok/1+2 3=="),
			TypeEquals: types.InferenceProfileTypeApplication,
		})
		return err
	}

	tests := []struct {
		name      string
		call      func(*bedrock.Client) error
		id        string
		secret    string
		token     string
		wantCode  string // "" means success
		wantPath  string // escaped path the server saw, on success
		wantQuery string // raw query the server saw, on success
	}{
		{
			name: "get by arn", call: get, id: testKeyID, secret: testSecret,
			wantPath: "/inference-profiles/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd1234efgh",
		},
		{
			name: "get by arn with session token", call: get, id: testKeyID, secret: testSecret, token: "session-token/+=",
			wantPath: "/inference-profiles/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd1234efgh",
		},
		{
			name: "list with query", call: list, id: otherKeyID, secret: otherSecret,
			wantPath:  "/inference-profiles",
			wantQuery: "maxResults=5&nextToken=tok%2F1%2B2%203%3D%3D&type=APPLICATION",
		},
		{name: "get with wrong secret", call: get, id: testKeyID, secret: "wrong", wantCode: "InvalidSignatureException"},
		{name: "list with wrong secret", call: list, id: testKeyID, secret: "wrong", wantCode: "InvalidSignatureException"},
		{name: "get with unknown key", call: get, id: "AKIDUNKNOWN", secret: testSecret, wantCode: "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(client(tt.id, tt.secret, tt.token))
			if tt.wantCode != "" {
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("error = %v, want a smithy.APIError", err)
				}
				if got := apiErr.ErrorCode(); got != tt.wantCode {
					t.Errorf("ErrorCode() = %q, want %q (%v)", got, tt.wantCode, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			res, path, query := rec.last()
			if diff := cmp.Diff(path, tt.wantPath); diff != "" {
				t.Errorf("escaped path (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(query, tt.wantQuery); diff != "" {
				t.Errorf("raw query (-got +want):\n%s", diff)
			}
			// The client signs with the wall clock.
			if d := time.Since(res.Date); d < -time.Minute || d > time.Minute {
				t.Errorf("Date = %v, want about now", res.Date)
			}
			want := sigv4.Result{AccessKeyID: tt.id, Region: "us-east-1", Service: "bedrock", SessionToken: tt.token, Date: res.Date}
			if diff := cmp.Diff(res, want); diff != "" {
				t.Errorf("Result (-got +want):\n%s", diff)
			}
		})
	}
}
