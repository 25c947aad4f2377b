package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/resolversidecar"
	"github.com/tollgate-dev/tollgate/resolver"
)

// profilesVerbs are profiles' subcommands.
var profilesVerbs = []string{"list", "show", "create", "tag", "untag", "delete", "export-map"}

// profilesCmd runs `tollgate profiles SUBCOMMAND`.
func profilesCmd(ctx context.Context, args []string, env Env) error {
	verb, rest := subcommand(args, "list")
	switch verb {
	case "export-map":
		if HelpArg(rest) {
			return helpOf(exportMapCmd(ctx, rest, env.Stdout, env.Stdout))
		}
		return exportMapCmd(ctx, rest, env.Stdout, env.Stderr)
	case "list", "show", "create", "tag", "untag", "delete":
		return profilesAPICmd(ctx, verb, rest, env)
	}
	return unknownCommand("profiles", verb, profilesVerbs)
}

const exportMapUsage = `Usage: tollgate profiles export-map --key tenant,app [--out map.yaml] [flags]

Lists every application inference profile through the Tagging API
(GetResources) and writes the static map of the key tags' values to
profile ARNs, for tollgate resolver --static or resolver.LoadStaticMap.
Profiles lacking a key tag are left out. Two profiles with the same values
are an error unless --allow-duplicates, which keeps the lowest ARN.

Examples:
  tollgate profiles export-map --key tenant,app
  tollgate profiles export-map --key dept,app --out map.yaml --allow-duplicates
`

// exportMapCmd runs `tollgate profiles export-map`.
func exportMapCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tollgate profiles export-map", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var endpoint, region, credFile, profile string
	resolversidecar.TaggingFlags(fs, &endpoint, &region, &credFile, &profile)
	keys := fs.String("key", "", "comma-separated key tags, in order, e.g. tenant,app (required)")
	out := fs.String("out", "-", `file to write ("-": standard output)`)
	allowDups := fs.Bool("allow-duplicates", false, "when several profiles carry the same key values, keep the lowest ARN and warn")
	resourceType := fs.String("resource-type", resolver.DefaultResourceType, "GetResources resource-type filter")
	fs.Usage = func() {
		fmt.Fprint(stderr, exportMapUsage)
		printFlags(stderr, fs)
	}
	if HelpArg(args) {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "profiles export-map"); err != nil {
		return err
	}
	if *keys == "" {
		return Usagef("profiles export-map", "profiles export-map: --key is required, e.g. --key tenant,app")
	}
	keyTags := strings.Split(*keys, ",")
	for i := range keyTags {
		keyTags[i] = strings.TrimSpace(keyTags[i])
	}

	client, err := resolversidecar.TaggingClient(ctx, endpoint, region, credFile, profile)
	if err != nil {
		return fmt.Errorf("export-map: %w", err)
	}
	r, err := resolver.New(resolver.Options{API: client, ResourceTypes: []string{*resourceType}})
	if err != nil {
		return fmt.Errorf("export-map: %w", err)
	}
	defer r.Close()
	profiles, err := r.ListProfiles(ctx)
	if err != nil {
		return fmt.Errorf("export-map: %w", err)
	}
	m, dups, err := resolver.BuildStaticMap(keyTags, profiles)
	if err != nil {
		return fmt.Errorf("export-map: %w", err)
	}
	if len(dups) > 0 {
		var b strings.Builder
		for _, d := range dups {
			fmt.Fprintf(&b, "\n  %s: %s", d.Key, strings.Join(d.ARNs, ", "))
		}
		if !*allowDups {
			return fmt.Errorf("export-map: %d key(s) name several profiles (pass --allow-duplicates to keep the lowest ARN):%s", len(dups), b.String())
		}
		fmt.Fprintf(stderr, "tollgate: warning: %d key(s) name several profiles; keeping the lowest ARN:%s\n", len(dups), b.String())
	}
	if *out == "-" {
		data, err := m.Encode()
		if err != nil {
			return err
		}
		_, err = stdout.Write(data)
		return err
	}
	if err := m.WriteFile(*out); err != nil {
		return fmt.Errorf("export-map: %w", err)
	}
	fmt.Fprintf(stderr, "tollgate: wrote %d keys to %s (%d profiles listed; those lacking a key tag are left out)\n",
		m.Len(), *out, len(profiles))
	return nil
}
