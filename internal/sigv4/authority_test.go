package sigv4_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// TestVerifyAuthorityPseudoHeader checks a request signed the way the
// JavaScript SDK signs over HTTP/2: with the :authority pseudo-header in
// place of host. The signature is computed here from the SigV4 spec.
func TestVerifyAuthorityPseudoHeader(t *testing.T) {
	body := `{"messages":[]}`
	r, _ := http.NewRequest("POST", "http://127.0.0.1:8080/model/m/converse", strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	amzDate := signTime.Format("20060102T150405Z")
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	payload := hex.EncodeToString(sum[:])
	canonical := strings.Join([]string{
		"POST", "/model/m/converse", "",
		":authority:127.0.0.1:8080", "content-type:application/json", "x-amz-date:" + amzDate, "",
		":authority;content-type;x-amz-date", payload,
	}, "\n")
	day := signTime.Format("20060102")
	scope := day + "/us-east-1/bedrock/aws4_request"
	creq := sha256.Sum256([]byte(canonical))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	k := hmacSHA256([]byte("AWS4"+testSecret), day)
	k = hmacSHA256(k, "us-east-1")
	k = hmacSHA256(k, "bedrock")
	k = hmacSHA256(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(k, sts))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKeyID+"/"+scope+", SignedHeaders=:authority;content-type;x-amz-date, Signature="+sig)

	if _, err := newVerifier(testNow).Verify(t.Context(), r, []byte(body)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	r.Host = "evil.example:8080"
	if _, err := newVerifier(testNow).Verify(t.Context(), r, []byte(body)); err == nil {
		t.Fatal("Verify accepted a changed :authority")
	}
}
