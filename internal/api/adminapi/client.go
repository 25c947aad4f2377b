package adminapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client calls the admin API of a running Tollgate, one method per route
// of Routes, signing every request with SigV4 under SigningName. It is
// safe for concurrent use.
type Client struct {
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	http     *http.Client
}

// NewClient returns a Client for the Tollgate at endpoint (its base URL),
// signing for region with creds. Each call times out after 30 seconds.
func NewClient(endpoint, region string, creds aws.CredentialsProvider) *Client {
	return &Client{endpoint: strings.TrimRight(endpoint, "/"), region: region, creds: creds,
		http: &http.Client{Timeout: 30 * time.Second}}
}

// Error is an error answer of the admin API: the AWS error name (the
// body's __type) and message, and the HTTP status line.
type Error struct {
	Status  string // e.g. "403 Forbidden"
	Type    string // e.g. "AccessDeniedException"; "" when the body has none
	Message string
}

// Error returns "Type: message", or "Status: message" when the answer
// named no type.
func (e *Error) Error() string {
	name := e.Type
	if name == "" {
		name = e.Status
	}
	return name + ": " + e.Message
}

// PrincipalInput is the body of CreatePrincipal. Account "" is the
// caller's account; Kind "" is a user.
type PrincipalInput struct {
	Account string            `json:"accountId"`
	Name    string            `json:"name"`
	Kind    string            `json:"kind"`
	Tags    map[string]string `json:"tags"`
}

// AccessKey is a key as ListAccessKeys lists it (an access key or a
// Bedrock API key, both under accessKeyId).
type AccessKey struct {
	ID        string    `json:"accessKeyId"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// Keys is the answer of ListAccessKeys: a principal's access keys and
// Bedrock API keys.
type Keys struct {
	AccessKeys []AccessKey `json:"accessKeys"`
	APIKeys    []AccessKey `json:"apiKeys"`
}

// NewAccessKey is the answer of CreateAccessKey; the secret is shown only
// here.
type NewAccessKey struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	Status          string `json:"status"`
	PrincipalID     string `json:"principalId"`
}

// AccessKeyStatus is the answer of UpdateAccessKey.
type AccessKeyStatus struct {
	AccessKeyID string `json:"accessKeyId"`
	Status      string `json:"status"`
}

// NewAPIKey is the answer of CreateAPIKey; the token is shown only here.
type NewAPIKey struct {
	APIKey      string `json:"apiKey"`
	PrincipalID string `json:"principalId"`
}

// APIKeyStatus is the answer of RevokeAPIKey.
type APIKeyStatus struct {
	APIKeyID string `json:"apiKeyId"`
	Status   string `json:"status"`
}

// ListAccounts lists the accounts the caller may see (ListAccounts).
func (c *Client) ListAccounts(ctx context.Context) ([]Account, error) {
	var out struct {
		Accounts []Account `json:"accounts"`
	}
	err := c.call(ctx, http.MethodGet, "/tollgate/v1/accounts", nil, &out)
	return out.Accounts, err
}

// CreateAccount creates the account id named name (CreateAccount).
func (c *Client) CreateAccount(ctx context.Context, id, name string) (Account, error) {
	var out Account
	err := c.call(ctx, http.MethodPost, "/tollgate/v1/accounts", map[string]string{"accountId": id, "name": name}, &out)
	return out, err
}

// ListPrincipals lists the principals of account ("" for the caller's)
// (ListPrincipals).
func (c *Client) ListPrincipals(ctx context.Context, account string) ([]Principal, error) {
	var out struct {
		Principals []Principal `json:"principals"`
	}
	err := c.call(ctx, http.MethodGet, "/tollgate/v1/principals"+accountQuery(account), nil, &out)
	return out.Principals, err
}

// CreatePrincipal creates a user or role with its principal tags
// (CreatePrincipal).
func (c *Client) CreatePrincipal(ctx context.Context, in PrincipalInput) (Principal, error) {
	var out Principal
	err := c.call(ctx, http.MethodPost, "/tollgate/v1/principals", in, &out)
	return out, err
}

// GetPrincipal returns one principal (GetPrincipal).
func (c *Client) GetPrincipal(ctx context.Context, id string) (Principal, error) {
	var out Principal
	err := c.call(ctx, http.MethodGet, principalPath(id), nil, &out)
	return out, err
}

// CreateAccessKey creates an access key for a principal (CreateAccessKey).
func (c *Client) CreateAccessKey(ctx context.Context, principalID string) (NewAccessKey, error) {
	var out NewAccessKey
	err := c.call(ctx, http.MethodPost, principalPath(principalID)+"/access-keys", nil, &out)
	return out, err
}

// ListAccessKeys lists a principal's access keys and API keys
// (ListAccessKeys).
func (c *Client) ListAccessKeys(ctx context.Context, principalID string) (Keys, error) {
	var out Keys
	err := c.call(ctx, http.MethodGet, principalPath(principalID)+"/access-keys", nil, &out)
	return out, err
}

// UpdateAccessKey sets an access key's status, "Active" or "Inactive"
// (UpdateAccessKey).
func (c *Client) UpdateAccessKey(ctx context.Context, accessKeyID, status string) (AccessKeyStatus, error) {
	var out AccessKeyStatus
	err := c.call(ctx, http.MethodPost, "/tollgate/v1/access-keys/"+url.PathEscape(accessKeyID),
		map[string]string{"status": status}, &out)
	return out, err
}

// CreateAPIKey creates a Bedrock API key for a principal (CreateAPIKey).
func (c *Client) CreateAPIKey(ctx context.Context, principalID string) (NewAPIKey, error) {
	var out NewAPIKey
	err := c.call(ctx, http.MethodPost, principalPath(principalID)+"/api-keys", nil, &out)
	return out, err
}

// RevokeAPIKey revokes a Bedrock API key (RevokeAPIKey).
func (c *Client) RevokeAPIKey(ctx context.Context, apiKeyID string) (APIKeyStatus, error) {
	var out APIKeyStatus
	err := c.call(ctx, http.MethodDelete, "/tollgate/v1/api-keys/"+url.PathEscape(apiKeyID), nil, &out)
	return out, err
}

// ListPolicies lists the policies of account ("" for the caller's)
// (ListPolicies).
func (c *Client) ListPolicies(ctx context.Context, account string) ([]Policy, error) {
	var out struct {
		Policies []Policy `json:"policies"`
	}
	err := c.call(ctx, http.MethodGet, "/tollgate/v1/policies"+accountQuery(account), nil, &out)
	return out.Policies, err
}

// PutPolicy creates or replaces the policy name of account with document,
// an IAM policy document in JSON, sent as it is (PutPolicy).
func (c *Client) PutPolicy(ctx context.Context, account, name string, document []byte) (Policy, error) {
	var out Policy
	err := c.call(ctx, http.MethodPut, "/tollgate/v1/policies/"+url.PathEscape(account)+"/"+url.PathEscape(name),
		rawJSON(document), &out)
	return out, err
}

// AttachPolicy attaches a policy of the principal's account to it and
// returns the principal (AttachPolicy).
func (c *Client) AttachPolicy(ctx context.Context, principalID, policyName string) (Principal, error) {
	var out Principal
	err := c.call(ctx, http.MethodPost, principalPath(principalID)+"/policies",
		map[string]string{"policyName": policyName}, &out)
	return out, err
}

// DetachPolicy detaches a policy from the principal and returns the
// principal (DetachPolicy).
func (c *Client) DetachPolicy(ctx context.Context, principalID, policyName string) (Principal, error) {
	var out Principal
	err := c.call(ctx, http.MethodDelete, principalPath(principalID)+"/policies/"+url.PathEscape(policyName), nil, &out)
	return out, err
}

func principalPath(id string) string { return "/tollgate/v1/principals/" + url.PathEscape(id) }

func accountQuery(account string) string {
	if account == "" {
		return ""
	}
	return "?account=" + url.QueryEscape(account)
}

// rawJSON is a request body sent as it is.
type rawJSON []byte

// call sends one signed request with in as its JSON body (nil: none) and
// decodes the JSON answer into out. An answer of 300 or above is an
// *Error.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	switch v := in.(type) {
	case nil:
	case rawJSON:
		body = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningName, c.region, time.Now()); err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		return &Error{Status: resp.Status, Type: e.Type, Message: e.Message}
	}
	return json.Unmarshal(data, out)
}
