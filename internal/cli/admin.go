package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
)

// adminCmd runs `tollgate accounts|principals|keys|policies ...` through
// the admin API's typed client and prints its answer as indented JSON.
func adminCmd(ctx context.Context, group string, args []string, env Env) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: tollgate %s <command> [flags]", group)
	}
	verb := args[0]
	fs := flag.NewFlagSet("tollgate "+group+" "+verb, flag.ContinueOnError)
	var conn serverFlags
	conn.register(fs, env.Getenv)
	account := fs.String("account", "", "account id (default: the caller's)")
	name := fs.String("name", "", "name")
	kind := fs.String("kind", "user", "principal kind: user or role")
	principalID := fs.String("principal", "", "principal id")
	policyName := fs.String("policy", "", "policy name")
	file := fs.String("file", "", "policy document file (- for stdin)")
	id := fs.String("id", "", "account id to create")
	tg := tagFlags{}
	fs.Var(tg, "tag", "principal tag key=value (repeatable)")
	if err := ParseFlags(fs, args[1:]); err != nil {
		return err
	}
	c, err := conn.adminClient(ctx)
	if err != nil {
		return err
	}
	needPrincipal := func() error {
		if *principalID == "" {
			return errors.New("--principal is required")
		}
		return nil
	}
	var out any
	switch group + " " + verb {
	case "accounts list":
		var as []adminapi.Account
		as, err = c.ListAccounts(ctx)
		out = map[string]any{"accounts": as}
	case "accounts create":
		out, err = c.CreateAccount(ctx, *id, *name)
	case "principals list":
		var ps []adminapi.Principal
		ps, err = c.ListPrincipals(ctx, *account)
		out = map[string]any{"principals": ps}
	case "principals create":
		out, err = c.CreatePrincipal(ctx, adminapi.PrincipalInput{Account: *account, Name: *name, Kind: *kind, Tags: tg})
	case "principals show":
		if err = needPrincipal(); err == nil {
			out, err = c.GetPrincipal(ctx, *principalID)
		}
	case "keys create":
		if err = needPrincipal(); err == nil {
			out, err = c.CreateAccessKey(ctx, *principalID)
		}
	case "keys list":
		if err = needPrincipal(); err == nil {
			out, err = c.ListAccessKeys(ctx, *principalID)
		}
	case "keys create-api-key":
		if err = needPrincipal(); err == nil {
			out, err = c.CreateAPIKey(ctx, *principalID)
		}
	case "keys activate", "keys deactivate":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: tollgate keys %s ACCESS_KEY_ID", verb)
		}
		status := "Active"
		if verb == "deactivate" {
			status = "Inactive"
		}
		out, err = c.UpdateAccessKey(ctx, fs.Arg(0), status)
	case "keys revoke-api-key":
		if fs.NArg() != 1 {
			return errors.New("usage: tollgate keys revoke-api-key API_KEY_ID")
		}
		out, err = c.RevokeAPIKey(ctx, fs.Arg(0))
	case "policies list":
		var ps []adminapi.Policy
		ps, err = c.ListPolicies(ctx, *account)
		out = map[string]any{"policies": ps}
	case "policies put":
		var doc []byte
		if *file == "-" {
			doc, err = io.ReadAll(os.Stdin)
		} else {
			doc, err = os.ReadFile(*file)
		}
		if err != nil {
			return err
		}
		acct := *account
		if acct == "" {
			accounts, err := c.ListAccounts(ctx)
			if err != nil || len(accounts) == 0 {
				return fmt.Errorf("--account is required (%v)", err)
			}
			acct = accounts[0].AccountID
		}
		out, err = c.PutPolicy(ctx, acct, *name, doc)
	case "policies attach":
		if err = needPrincipal(); err == nil {
			out, err = c.AttachPolicy(ctx, *principalID, *policyName)
		}
	case "policies detach":
		if err = needPrincipal(); err == nil {
			out, err = c.DetachPolicy(ctx, *principalID, *policyName)
		}
	default:
		return fmt.Errorf("unknown command: tollgate %s %s", group, verb)
	}
	if err != nil {
		return err
	}
	return writeJSON(env.Stdout, out)
}
