// Package arn parses and formats Amazon Resource Names, with helpers for the
// Bedrock resource types Tollgate serves (foundation models, system-defined
// and application inference profiles) and for the IAM and Organizations
// resources its admin API authorizes on (policies, accounts).
package arn

import (
	"errors"
	"strings"
)

// Bedrock resource types, as they appear before the "/" in an ARN's resource.
const (
	TypeFoundationModel    = "foundation-model"
	TypeInferenceProfile   = "inference-profile"
	TypeApplicationProfile = "application-inference-profile"
)

// ARN is a parsed Amazon Resource Name.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	// Resource is everything after the fifth colon, for example
	// "application-inference-profile/abcd1234efgh".
	Resource string
}

// ErrInvalid is returned for a string that is not an ARN.
var ErrInvalid = errors.New("arn: invalid ARN")

var partitions = map[string]bool{"aws": true, "aws-us-gov": true, "aws-cn": true, "aws-iso": true, "aws-iso-b": true}

// Parse splits s into its ARN parts. It checks the general form only:
// "arn", a known partition, a service, and a non-empty resource.
func Parse(s string) (ARN, error) {
	if len(s) > 2048 || !strings.HasPrefix(s, "arn:") {
		return ARN{}, ErrInvalid
	}
	// strings.SplitN(s, ":", 6), into an array that does not escape.
	var parts [6]string
	rest := s
	for i := range 5 {
		var ok bool
		if parts[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return ARN{}, ErrInvalid
		}
	}
	parts[5] = rest
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}
	if !partitions[a.Partition] || a.Service == "" || a.Resource == "" {
		return ARN{}, ErrInvalid
	}
	if !validRegion(a.Region) || !validAccount(a.Account) {
		return ARN{}, ErrInvalid
	}
	return a, nil
}

func validRegion(r string) bool {
	if len(r) > 20 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validAccount(a string) bool {
	if a == "" {
		return true
	}
	if len(a) != 12 {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the ARN.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// Type returns the resource type: the part of Resource before the first "/"
// (or ":"), or "" when the resource has neither.
func (a ARN) Type() string {
	if i := strings.IndexAny(a.Resource, "/:"); i >= 0 {
		return a.Resource[:i]
	}
	return ""
}

// ID returns the resource id: the part of Resource after the type and its
// separator.
func (a ARN) ID() string {
	if i := strings.IndexAny(a.Resource, "/:"); i >= 0 {
		return a.Resource[i+1:]
	}
	return a.Resource
}

// FoundationModel returns the ARN of a foundation model in region.
func FoundationModel(region, modelID string) string {
	return "arn:aws:bedrock:" + region + "::" + TypeFoundationModel + "/" + modelID
}

// InferenceProfile returns the ARN of a system-defined inference profile.
func InferenceProfile(region, account, id string) string {
	return "arn:aws:bedrock:" + region + ":" + account + ":" + TypeInferenceProfile + "/" + id
}

// ApplicationProfile returns the ARN of an application inference profile.
func ApplicationProfile(region, account, id string) string {
	return "arn:aws:bedrock:" + region + ":" + account + ":" + TypeApplicationProfile + "/" + id
}

// Bedrock parses s and checks that it is a Bedrock ARN of one of the given
// resource types with a non-empty id.
func Bedrock(s string, types ...string) (ARN, error) {
	a, err := Parse(s)
	if err != nil {
		return ARN{}, err
	}
	if a.Service != "bedrock" || a.ID() == "" {
		return ARN{}, ErrInvalid
	}
	for _, t := range types {
		if a.Type() == t {
			return a, nil
		}
	}
	return ARN{}, ErrInvalid
}

// IAMPolicy returns the ARN of an account's customer-managed identity
// policy, as IAM writes it.
func IAMPolicy(account, name string) string {
	return "arn:aws:iam::" + account + ":policy/" + name
}

// IAMAll returns the pattern-like ARN that stands for every IAM resource
// of an account (its users, roles and policies); list operations over
// principals are authorized on it.
func IAMAll(account string) string {
	return "arn:aws:iam::" + account + ":*"
}

// OrganizationsAccount returns the ARN of a member account of the
// organisation whose management account is management, as AWS
// Organizations writes it without the organisation id segment.
func OrganizationsAccount(management, account string) string {
	return "arn:aws:organizations::" + management + ":account/" + account
}
