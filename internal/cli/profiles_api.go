package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bdtypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
)

const profilesUsage = `Usage: tollgate profiles [list] [flags]
       tollgate profiles show PROFILE [flags]
       tollgate profiles create NAME (--model MODEL | --copy-from PROFILE) [--tag key=value ...] [flags]
       tollgate profiles tag PROFILE --tag key=value [--tag ...] [flags]
       tollgate profiles untag PROFILE --key KEY [--key ...] [flags]
       tollgate profiles delete PROFILE [flags]
       tollgate profiles export-map --key tenant,app [flags]   (tollgate help profiles export-map)

Manage application inference profiles through the Bedrock API of the
running Tollgate, with your credentials, so your policies authorize each
change (a policy may, for instance, require the cost tags on create).
PROFILE is a profile's name, id or ARN.

create wraps one foundation model (--model, an id such as
anthropic.claude-3-haiku-20240307-v1:0, or its ARN) or copies a
system-defined cross-region profile (--copy-from us.anthropic...: the new
profile routes to its regions). Tags are cost-allocation tags: every call
through the profile is metered under them.

Examples:
  tollgate profiles
  tollgate profiles create claims-bot --model anthropic.claude-3-haiku-20240307-v1:0 \
      --tag dept=claims --tag team=automation --tag app=claims_chatbot
  tollgate profiles create sales-chat --copy-from us.anthropic.claude-3-5-haiku-20241022-v1:0 --tag dept=sales
  tollgate profiles show claims-bot -o yaml
  tollgate profiles tag claims-bot --tag env=prod
  tollgate profiles untag claims-bot --key env
  tollgate profiles delete claims-bot
`

// bedrockClient returns a Bedrock control-plane SDK client for the
// flags' server.
func (f *serverFlags) bedrockClient(ctx context.Context) (*bedrock.Client, error) {
	cfg, err := f.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return bedrock.NewFromConfig(cfg), nil
}

// profilesAPICmd runs profiles list, show, create, tag, untag and delete.
func profilesAPICmd(ctx context.Context, verb string, args []string, env Env) error {
	cmd := "profiles " + verb
	fs := newFlagSet("tollgate "+cmd, profilesUsage, env)
	var conn serverFlags
	conn.register(fs, env.Getenv)
	out := registerOutput(fs)
	tg := tagFlags{}
	var keys listFlag
	var model, copyFrom, description string
	switch verb {
	case "create":
		fs.Var(tg, "tag", "cost-allocation tag `key=value` (repeatable)")
		fs.StringVar(&model, "model", "", "foundation model `id` or ARN the profile wraps")
		fs.StringVar(&copyFrom, "copy-from", "", "system-defined profile (id or ARN) whose regions the profile routes to")
		fs.StringVar(&description, "description", "", "description")
	case "tag":
		fs.Var(tg, "tag", "tag `key=value` to add or change (repeatable)")
	case "untag":
		fs.Var(&keys, "key", "tag `key` to remove (repeatable)")
	}
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	var ref string
	if verb == "list" {
		if err := noArgs(fs, cmd); err != nil {
			return err
		}
	} else {
		what := "PROFILE"
		if verb == "create" {
			what = "NAME"
		}
		pos, err := nArgs(fs, cmd, what)
		if err != nil {
			return err
		}
		ref = pos[0]
	}
	switch {
	case verb == "create" && (model == "") == (copyFrom == ""):
		return Usagef(cmd, "%s: give one of --model or --copy-from", cmd)
	case verb == "tag" && len(tg) == 0:
		return Usagef(cmd, "%s: give at least one --tag key=value", cmd)
	case verb == "untag" && len(keys) == 0:
		return Usagef(cmd, "%s: give at least one --key", cmd)
	}
	c, err := conn.bedrockClient(ctx)
	if err != nil {
		return err
	}
	switch verb {
	case "list":
		ps, err := listProfiles(ctx, c)
		if err != nil {
			return err
		}
		rows := make([]profileRow, 0, len(ps))
		for _, p := range ps {
			row, err := profileRowOf(ctx, c, p)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return render(env.Stdout, out.format, profilesDataset(rows))
	case "create":
		src, err := modelSource(ctx, c, model, copyFrom, conn.regionOr())
		if err != nil {
			return err
		}
		in := &bedrock.CreateInferenceProfileInput{InferenceProfileName: &ref,
			ModelSource: &bdtypes.InferenceProfileModelSourceMemberCopyFrom{Value: src}, Tags: bedrockTags(tg)}
		if description != "" {
			in.Description = &description
		}
		created, err := c.CreateInferenceProfile(ctx, in)
		if err != nil {
			return err
		}
		ref = aws.ToString(created.InferenceProfileArn)
	}
	arn, err := resolveProfile(ctx, c, ref)
	if err != nil {
		return err
	}
	switch verb {
	case "tag":
		if _, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: &arn, Tags: bedrockTags(tg)}); err != nil {
			return err
		}
	case "untag":
		if _, err := c.UntagResource(ctx, &bedrock.UntagResourceInput{ResourceARN: &arn, TagKeys: keys}); err != nil {
			return err
		}
	case "delete":
		if _, err := c.DeleteInferenceProfile(ctx, &bedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: &arn}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Deleted profile %s (%s).\n", ref, arn)
		return nil
	}
	got, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: &arn})
	if err != nil {
		return err
	}
	row, err := profileRowOf(ctx, c, bdtypes.InferenceProfileSummary{InferenceProfileArn: got.InferenceProfileArn,
		InferenceProfileId: got.InferenceProfileId, InferenceProfileName: got.InferenceProfileName, Models: got.Models,
		Status: got.Status, Type: got.Type, CreatedAt: got.CreatedAt, Description: got.Description})
	if err != nil {
		return err
	}
	ds := profilesDataset([]profileRow{row})
	if out.format == "table" {
		return printProfile(env, row)
	}
	return render(env.Stdout, out.format, ds)
}

func (f *serverFlags) regionOr() string {
	_, region, _, err := f.resolve()
	if err != nil || region == "" {
		return "us-east-1"
	}
	return region
}

// profileRow is one profile as profiles list and show print it.
type profileRow struct {
	name, id, arn, typ, status, model, description string
	regions                                        []string
	tags                                           map[string]string
	created                                        any
}

func profileRowOf(ctx context.Context, c *bedrock.Client, p bdtypes.InferenceProfileSummary) (profileRow, error) {
	row := profileRow{name: aws.ToString(p.InferenceProfileName), id: aws.ToString(p.InferenceProfileId),
		arn: aws.ToString(p.InferenceProfileArn), typ: string(p.Type), status: string(p.Status),
		description: aws.ToString(p.Description), tags: map[string]string{}}
	if p.CreatedAt != nil {
		row.created = p.CreatedAt.UTC()
	}
	for _, m := range p.Models {
		a := aws.ToString(m.ModelArn)
		// arn:aws:bedrock:REGION::foundation-model/ID
		if parts := strings.SplitN(a, ":", 6); len(parts) == 6 {
			row.regions = append(row.regions, parts[3])
			row.model = strings.TrimPrefix(parts[5], "foundation-model/")
		}
	}
	tags, err := c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: p.InferenceProfileArn})
	if err != nil {
		return row, err
	}
	for _, t := range tags.Tags {
		row.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return row, nil
}

func profilesDataset(rows []profileRow) dataset {
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	ds := dataset{cols: []column{{key: "name"}, {key: "id"}, {key: "model"}, {key: "regions"}, {key: "tags"},
		{key: "status"}, {key: "arn", header: "ARN"}}, empty: "No application inference profiles."}
	for _, r := range rows {
		ds.rows = append(ds.rows, []any{r.name, r.id, r.model, r.regions, r.tags, r.status, r.arn})
	}
	return ds
}

func printProfile(env Env, r profileRow) error {
	w := env.Stdout
	fmt.Fprintf(w, "Profile:     %s\n", r.name)
	fmt.Fprintf(w, "Id:          %s\n", r.id)
	fmt.Fprintf(w, "ARN:         %s\n", r.arn)
	fmt.Fprintf(w, "Type:        %s (%s)\n", r.typ, r.status)
	fmt.Fprintf(w, "Model:       %s\n", cellText(r.model))
	fmt.Fprintf(w, "Regions:     %s\n", cellText(r.regions))
	fmt.Fprintf(w, "Tags:        %s\n", cellText(r.tags))
	if r.description != "" {
		fmt.Fprintf(w, "Description: %s\n", r.description)
	}
	_, err := fmt.Fprintf(w, "Created:     %s\n", cellText(r.created))
	return err
}

// listProfiles lists every application inference profile.
func listProfiles(ctx context.Context, c *bedrock.Client) ([]bdtypes.InferenceProfileSummary, error) {
	var all []bdtypes.InferenceProfileSummary
	p := bedrock.NewListInferenceProfilesPaginator(c, &bedrock.ListInferenceProfilesInput{TypeEquals: bdtypes.InferenceProfileTypeApplication})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, out.InferenceProfileSummaries...)
	}
	return all, nil
}

// resolveProfile returns the ARN of the application profile ref names:
// an ARN or id as is (the server answers NotFound), else the profile of
// that name, with a did-you-mean when there is none.
func resolveProfile(ctx context.Context, c *bedrock.Client, ref string) (string, error) {
	if strings.HasPrefix(ref, "arn:") {
		return ref, nil
	}
	ps, err := listProfiles(ctx, c)
	if err != nil {
		return "", err
	}
	var names []string
	for _, p := range ps {
		if aws.ToString(p.InferenceProfileName) == ref || aws.ToString(p.InferenceProfileId) == ref {
			return aws.ToString(p.InferenceProfileArn), nil
		}
		names = append(names, aws.ToString(p.InferenceProfileName))
	}
	err = fmt.Errorf("no application inference profile named %q", ref)
	if s := closest(ref, names); s != "" {
		return "", &hintError{err, "Did you mean " + s + "?"}
	}
	return "", &hintError{err, "Run 'tollgate profiles list' for the profiles."}
}

// modelSource returns the copyFrom ARN of create's --model or
// --copy-from.
func modelSource(ctx context.Context, c *bedrock.Client, model, copyFrom, region string) (string, error) {
	if model != "" {
		if strings.HasPrefix(model, "arn:") {
			return model, nil
		}
		return "arn:aws:bedrock:" + region + "::foundation-model/" + model, nil
	}
	if strings.HasPrefix(copyFrom, "arn:") {
		return copyFrom, nil
	}
	p, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: &copyFrom})
	if err != nil {
		return "", fmt.Errorf("--copy-from %s: %w", copyFrom, err)
	}
	return aws.ToString(p.InferenceProfileArn), nil
}

func bedrockTags(t tagFlags) []bdtypes.Tag {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]bdtypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, bdtypes.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	return out
}
