package arn_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/arn"
)

var allTypes = []string{arn.TypeFoundationModel, arn.TypeInferenceProfile, arn.TypeApplicationProfile}

// FuzzParse checks that Parse never panics, that every ARN it accepts
// formats back to the input and parses again to the same value, that Type
// and ID split the resource, and that Bedrock accepts exactly the Bedrock
// ARNs Parse accepts with one of the requested types and a non-empty id.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		arn.FoundationModel("us-east-1", "anthropic.claude-3-haiku-20240307-v1:0"),
		arn.InferenceProfile("us-east-1", "123456789012", "us.anthropic.claude-3-haiku-20240307-v1:0"),
		arn.ApplicationProfile("us-west-2", "123456789012", "abcd1234efgh"),
		"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/amazon.titan-text-express-v1",
		"arn:aws:iam::123456789012:root",
		"arn:aws:s3:::bucket/key:with:colons",
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/",
		"arn:aws:bedrock:US-EAST-1:123456789012:foundation-model/x",
		"arn:aws:bedrock:us-east-1:12345678901:foundation-model/x",
		"arn:aws:bedrock:us-east-1",
		"arn:aws:bedrock:us-east-1::",
		"arn:aws:bedrock:us-east-1::foundation-model:x/y",
		"",
		"arn:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := arn.Parse(s)
		if err != nil {
			if a != (arn.ARN{}) {
				t.Errorf("Parse(%q) = %+v with error %v, want the zero ARN", s, a, err)
			}
			if _, berr := arn.Bedrock(s, allTypes...); berr == nil {
				t.Errorf("Bedrock(%q) accepted what Parse rejects (%v)", s, err)
			}
			return
		}
		if a.Partition == "" || a.Service == "" || a.Resource == "" {
			t.Errorf("Parse(%q) = %+v: empty partition, service or resource", s, a)
		}
		if got := a.String(); got != s {
			t.Errorf("Parse(%q).String() = %q", s, got)
		}
		b, err := arn.Parse(a.String())
		if err != nil {
			t.Fatalf("Parse(%q) failed on the formatted ARN %+v: %v", a.String(), a, err)
		}
		if b != a {
			t.Errorf("Parse(String()) = %+v, want %+v", b, a)
		}
		// Type and ID split the resource at its first "/" or ":".
		typ, id := a.Type(), a.ID()
		if i := strings.IndexAny(a.Resource, "/:"); i >= 0 {
			if typ+a.Resource[i:i+1]+id != a.Resource {
				t.Errorf("Type %q and ID %q do not split resource %q", typ, id, a.Resource)
			}
		} else if typ != "" || id != a.Resource {
			t.Errorf("resource %q without a separator has Type %q and ID %q", a.Resource, typ, id)
		}

		for _, types := range [][]string{allTypes, {arn.TypeFoundationModel}, {arn.TypeApplicationProfile}, nil} {
			want := a.Service == "bedrock" && a.ID() != "" && slices.Contains(types, a.Type())
			got, err := arn.Bedrock(s, types...)
			if (err == nil) != want {
				t.Errorf("Bedrock(%q, %q) error = %v, want accepted=%v", s, types, err, want)
				continue
			}
			if err == nil && got != a {
				t.Errorf("Bedrock(%q) = %+v, Parse = %+v", s, got, a)
			}
		}

		// The builders produce what Parse reads back, for any region,
		// account and id Parse accepted.
		for typ, build := range map[string]func() string{
			arn.TypeFoundationModel:    func() string { return arn.FoundationModel(a.Region, a.ID()) },
			arn.TypeInferenceProfile:   func() string { return arn.InferenceProfile(a.Region, a.Account, a.ID()) },
			arn.TypeApplicationProfile: func() string { return arn.ApplicationProfile(a.Region, a.Account, a.ID()) },
		} {
			built := build()
			c, err := arn.Bedrock(built, typ)
			if err != nil {
				// Parse caps an ARN at 2048 bytes; a long id can take a
				// built ARN past it.
				if a.ID() != "" && len(built) <= 2048 {
					t.Errorf("Bedrock(%.300q) (built from %.300q): %v", built, s, err)
				}
				continue
			}
			if c.Region != a.Region || c.ID() != a.ID() || c.Type() != typ || c.Partition != "aws" {
				t.Errorf("Bedrock(%q) = %+v, want region %q, type %q, id %q", built, c, a.Region, typ, a.ID())
			}
			if typ != arn.TypeFoundationModel && c.Account != a.Account {
				t.Errorf("Bedrock(%q).Account = %q, want %q", built, c.Account, a.Account)
			}
		}
	})
}

// TestParseFields: Parse splits at the first five colons, as
// strings.SplitN(s, ":", 6) does, and refuses fewer.
func TestParseFields(t *testing.T) {
	for _, s := range []string{
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdefghijkl",
		"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/a:b:c",
		"arn:aws:bedrock:us-east-1:",
		"arn:aws:bedrock:us-east-1",
		"arn:aws:bedrock::::",
		"arn:",
	} {
		a, err := arn.Parse(s)
		parts := strings.SplitN(s, ":", 6)
		if len(parts) != 6 {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", s, a)
			}
			continue
		}
		if err != nil {
			if parts[5] != "" && parts[2] != "" {
				t.Errorf("Parse(%q): %v", s, err)
			}
			continue
		}
		if got, want := []string{a.Partition, a.Service, a.Region, a.Account, a.Resource}, parts[1:]; !slices.Equal(got, want) {
			t.Errorf("Parse(%q) = %q, want %q", s, got, want)
		}
	}
}
