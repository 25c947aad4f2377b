package authz_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

type noPolicies struct{}

func (noPolicies) AttachedPolicies(string) []any { return nil }

// TestUnrestricted: a caller Unrestricted reports is allowed whatever it
// asks; the others are not unrestricted (a user without policies is
// denied).
func TestUnrestricted(t *testing.T) {
	a := authz.New(noPolicies{}, nil)
	tests := []struct {
		name string
		id   principal.Identity
		want bool
	}{
		{"root", principal.Identity{Principal: &principal.Principal{Kind: principal.Root, Account: "111122223333"}}, true},
		{"user", principal.Identity{Principal: &principal.Principal{Kind: principal.User, Account: "111122223333", Name: "u"}}, false},
		{"unauthenticated", principal.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Unrestricted(tt.id); got != tt.want {
				t.Fatalf("Unrestricted = %v, want %v", got, tt.want)
			}
			err := a.Check(tt.id, authz.Env{}, "bedrock:InvokeModel", "arn:aws:bedrock:us-east-1:444455556666:application-inference-profile/x",
				map[string][]string{"aws:ResourceTag/team": {"a"}})
			if allowed := err == nil; allowed != tt.want {
				t.Errorf("Check = %v, want allowed %v", err, tt.want)
			}
		})
	}
}
