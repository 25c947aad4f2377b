package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
)

const adminUsage = `Usage: tollgate accounts list|create --id ID --name N
       tollgate principals list [--account A] | create --name N [--kind user|role] [--account A] [--tag k=v] | show --principal P
       tollgate keys create|list|create-api-key --principal P | activate|deactivate KEY | revoke-api-key ID
       tollgate policies list [--account A] | put --name N --file F | attach|detach --principal P --policy N

Administer accounts, principals (users and roles), their access keys and
Bedrock API keys, and IAM policies, through the admin API of the running
Tollgate (the data directory's endpoint and credentials, or --endpoint and
--credentials), authorized by your policies. Answers are JSON.

Examples:
  tollgate principals create --name claims-app --tag team=claims
  tollgate keys create --principal AIDAEXAMPLE
  tollgate policies put --name claims-invoke --file claims-policy.json
  tollgate policies attach --principal AIDAEXAMPLE --policy claims-invoke
`

// adminVerbs are each admin group's subcommands.
var adminVerbs = map[string][]string{
	"accounts":   {"list", "create"},
	"principals": {"list", "create", "show"},
	"keys":       {"create", "list", "create-api-key", "activate", "deactivate", "revoke-api-key"},
	"policies":   {"list", "put", "attach", "detach"},
}

// adminCmd runs `tollgate accounts|principals|keys|policies ...` through
// the admin API's typed client and prints its answer as indented JSON.
func adminCmd(ctx context.Context, group string, args []string, env Env) error {
	if len(args) == 0 || HelpArg(args[:1]) {
		if len(args) > 0 {
			fmt.Fprint(env.Stdout, adminUsage)
			return errHelpShown
		}
		return Usagef(group, "%s: give a command: %s", group, strings.Join(adminVerbs[group], ", "))
	}
	verb := args[0]
	if !contains(adminVerbs[group], verb) {
		return unknownCommand(group, verb, adminVerbs[group])
	}
	fs := newFlagSet("tollgate "+group+" "+verb, adminUsage, env)
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
	switch group + " " + verb {
	case "keys activate", "keys deactivate", "keys revoke-api-key":
		if fs.NArg() != 1 {
			return Usagef(group+" "+verb, "usage: tollgate keys %s KEY_ID", verb)
		}
	default:
		if err := noArgs(fs, group+" "+verb); err != nil {
			return err
		}
	}
	c, err := conn.adminClient(ctx)
	if err != nil {
		return err
	}
	needPrincipal := func() error {
		if *principalID == "" {
			return Usagef(group+" "+verb, "%s %s: --principal is required", group, verb)
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
			return Usagef("keys "+verb, "usage: tollgate keys %s ACCESS_KEY_ID", verb)
		}
		status := "Active"
		if verb == "deactivate" {
			status = "Inactive"
		}
		out, err = c.UpdateAccessKey(ctx, fs.Arg(0), status)
	case "keys revoke-api-key":
		if fs.NArg() != 1 {
			return Usagef("keys revoke-api-key", "usage: tollgate keys revoke-api-key API_KEY_ID")
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
