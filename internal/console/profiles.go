package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// tagFilter is one row of the profile list's filter: a key and the
// values any of which matches (none: the key with any value), as the
// Resource Groups Tagging API's TagFilters.
type tagFilter struct {
	Key    string
	Values string // comma-separated
}

func (f tagFilter) match(t tags.Set) bool {
	v, ok := t[f.Key]
	if !ok {
		return false
	}
	if strings.TrimSpace(f.Values) == "" {
		return true
	}
	for _, want := range strings.Split(f.Values, ",") {
		if strings.TrimSpace(want) == v {
			return true
		}
	}
	return false
}

type profileRow struct {
	profile.Profile
	TagList []tags.Tag
}

type profilesPage struct {
	Panel   panel
	Filters [3]tagFilter
	Apps    []profileRow
	System  []profileRow
	Keys    []string
	Total   int
}

func rowsOf(ps []profile.Profile) []profileRow {
	out := make([]profileRow, len(ps))
	for i, p := range ps {
		out[i] = profileRow{Profile: p, TagList: p.Tags.List()}
	}
	return out
}

// profiles lists both kinds of profile (bedrock:ListInferenceProfiles on
// "*"), application profiles filtered by tags.
func (h *Handler) profiles(w http.ResponseWriter, q *req) {
	var p profilesPage
	qv := q.URL.Query()
	for i := range p.Filters {
		p.Filters[i] = tagFilter{Key: strings.TrimSpace(qv.Get("k" + string(rune('0'+i)))), Values: qv.Get("v" + string(rune('0'+i)))}
	}
	p.Panel = h.guard(q, "bedrock:ListInferenceProfiles", "*", nil, func() (any, error) { return true, nil })
	if p.Panel.Data != nil {
		apps := h.opts.Profiles.ListApplication(q.account)
		p.Total = len(apps)
		apps = slices.DeleteFunc(apps, func(pr profile.Profile) bool {
			for _, f := range p.Filters {
				if f.Key != "" && !f.match(pr.Tags) {
					return true
				}
			}
			return false
		})
		const maxRows = 500
		if len(apps) > maxRows {
			apps = apps[:maxRows]
		}
		p.Apps = rowsOf(apps)
		p.System = rowsOf(h.opts.Profiles.ListSystem(q.account))
		p.Keys = h.opts.Profiles.TagKeys(q.account)
	}
	h.render(w, q.Request, panelStatus(p.Panel), "profiles", h.newView(q, "profiles", "Inference profiles", p))
}

type profileDetail struct {
	Panel     panel
	Profile   profile.Profile
	TagList   []tags.Tag
	Regions   []string
	Cost      panel
	MTD       money.Amount
	Forecast  panel
	Endpoint  string
	Region    string
	Snippets  []snippet
	Estimated bool
}

type snippet struct{ Lang, Label, Code string }

func (h *Handler) profileDetail(w http.ResponseWriter, q *req) {
	id := q.PathValue("id")
	var d profileDetail
	pr, err := h.opts.Profiles.Get(q.account, id)
	if err != nil {
		h.renderError(w, q.Request, q, http.StatusNotFound, "No such inference profile", h.message(q.Request, err))
		return
	}
	d.Panel = h.guard(q, "bedrock:GetInferenceProfile", pr.ARN, authz.ResourceKeys(pr.Tags), func() (any, error) { return pr, nil })
	if d.Panel.Data != nil {
		d.Profile, d.TagList, d.Regions = pr, pr.Tags.List(), pr.Regions()
		now := h.opts.Now().UTC()
		today := now.Truncate(24 * time.Hour)
		month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		filter := &costquery.Expr{Dimensions: &costquery.Values{Key: costquery.DimResourceID, Values: []string{pr.ARN}}}
		d.Cost = h.guard(q, "ce:GetCostAndUsage", "*", nil, func() (any, error) {
			return h.opts.Costs.CostAndUsage(q.Context(), h.costAccounts(q), costquery.Query{From: month, To: today.AddDate(0, 0, 1), Granularity: costquery.Monthly, Filter: filter})
		})
		if r, ok := d.Cost.Data.(costquery.Result); ok {
			for _, p := range r.Periods {
				d.MTD += p.Total.Cost
				d.Estimated = d.Estimated || p.Estimated
			}
		}
		next := month.AddDate(0, 1, 0)
		d.Forecast = h.guard(q, "ce:GetCostForecast", "*", nil, func() (any, error) {
			fr, err := h.opts.Costs.Forecast(q.Context(), h.costAccounts(q), costquery.ForecastQuery{From: today, To: next, Granularity: costquery.Monthly, Filter: filter})
			if err != nil {
				return nil, forecastErr(err)
			}
			return d.MTD + fr.Total, nil
		})
		scheme := "http"
		if q.TLS != nil {
			scheme = "https"
		}
		d.Endpoint, d.Region = scheme+"://"+q.Host, h.opts.Profiles.Region()
		d.Snippets = snippets(d.Endpoint, d.Region, pr.ARN)
	}
	h.render(w, q.Request, panelStatus(d.Panel), "profile", h.newView(q, "profiles", "Profile "+pr.Name, d))
}

// snippets are ready-to-paste calls of a profile through this endpoint.
func snippets(endpoint, region, profileARN string) []snippet {
	return []snippet{
		{"go", "Go (aws-sdk-go-v2)", `cfg, _ := config.LoadDefaultConfig(ctx, config.WithRegion("` + region + `"))
client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
	o.BaseEndpoint = aws.String("` + endpoint + `")
})
out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{
	ModelId: aws.String("` + profileARN + `"),
	Messages: []types.Message{{Role: types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}},
})`},
		{"python", "Python (boto3)", `import boto3

client = boto3.client("bedrock-runtime", region_name="` + region + `",
                      endpoint_url="` + endpoint + `")
resp = client.converse(
    modelId="` + profileARN + `",
    messages=[{"role": "user", "content": [{"text": "Hello"}]}],
)
print(resp["output"]["message"]["content"][0]["text"])`},
		{"js", "JavaScript (AWS SDK v3)", `import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";

const client = new BedrockRuntimeClient({ region: "` + region + `", endpoint: "` + endpoint + `" });
const resp = await client.send(new ConverseCommand({
  modelId: "` + profileARN + `",
  messages: [{ role: "user", content: [{ text: "Hello" }] }],
}));
console.log(resp.output.message.content[0].text);`},
	}
}

type profileForm struct {
	Name, Description, Source, Tags, Error string
	Models                                 []option
	System                                 []option
}

func (h *Handler) profileForm(w http.ResponseWriter, q *req) {
	if res := arn.ApplicationProfile(h.opts.Profiles.Region(), q.account, "*"); h.authorize(q, "bedrock:CreateInferenceProfile", res, nil) != nil {
		h.renderDenied(w, q, "profiles", "bedrock:CreateInferenceProfile", res)
		return
	}
	h.showProfileForm(w, q, http.StatusOK, profileForm{Source: q.URL.Query().Get("source")})
}

func (h *Handler) showProfileForm(w http.ResponseWriter, q *req, status int, f profileForm) {
	region := h.opts.Profiles.Region()
	for _, m := range h.opts.Profiles.Catalog().ModelsIn(region) {
		if slices.Contains(m.InferenceTypes, "ON_DEMAND") {
			f.Models = append(f.Models, option{arn.FoundationModel(region, m.ID), m.Provider + " " + m.Name + " (" + m.ID + ")"})
		}
	}
	for _, sp := range h.opts.Profiles.ListSystem(q.account) {
		f.System = append(f.System, option{sp.ARN, sp.Name + " (" + sp.ID + ")"})
	}
	h.render(w, q.Request, status, "profileform", h.newView(q, "profiles", "Create inference profile", f))
}

// parseTags reads "key=value" lines (or commas).
func parseTags(s string) ([]tags.Tag, error) {
	var out []tags.Tag
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, errInvalid("Write each tag as key=value; %q has no '='.", line)
		}
		out = append(out, tags.Tag{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out, nil
}

// createProfile creates an application profile, authorized as
// CreateInferenceProfile is: on the new profile's ARN pattern and on the
// source, with the request's tags.
func (h *Handler) createProfile(w http.ResponseWriter, q *req) {
	f := profileForm{Name: strings.TrimSpace(q.PostFormValue("name")), Description: strings.TrimSpace(q.PostFormValue("description")),
		Source: q.PostFormValue("source"), Tags: q.PostFormValue("tags")}
	tl, err := parseTags(f.Tags)
	if err != nil {
		f.Error = h.message(q.Request, err)
		h.showProfileForm(w, q, http.StatusBadRequest, f)
		return
	}
	keys := authz.AddRequestTags(map[string][]string{}, tl)
	newARN := arn.ApplicationProfile(h.opts.Profiles.Region(), q.account, "*")
	for _, res := range []string{newARN, f.Source} {
		if err := h.authorize(q, "bedrock:CreateInferenceProfile", res, keys); err != nil {
			h.renderDenied(w, q, "profiles", "bedrock:CreateInferenceProfile", res)
			return
		}
	}
	p, err := h.opts.Profiles.Create(q.Context(), profile.CreateInput{Account: q.account, Name: f.Name, Description: f.Description, CopyFrom: f.Source, Tags: tl})
	if err != nil {
		f.Error = h.message(q.Request, err)
		h.showProfileForm(w, q, http.StatusBadRequest, f)
		return
	}
	done(w, q.Request, "/console/profiles/"+url.PathEscape(p.ID), "Inference profile created.")
}

// tagProfile adds or replaces tags (bedrock:TagResource) and removes the
// keys asked (bedrock:UntagResource), each authorized as the API does.
func (h *Handler) tagProfile(w http.ResponseWriter, q *req) {
	pr, err := h.opts.Profiles.Get(q.account, q.PathValue("id"))
	if err != nil {
		h.renderError(w, q.Request, q, http.StatusNotFound, "No such inference profile", h.message(q.Request, err))
		return
	}
	add, err := parseTags(q.PostFormValue("add"))
	if err != nil {
		h.renderError(w, q.Request, q, http.StatusBadRequest, "Tags not changed", h.message(q.Request, err))
		return
	}
	remove := q.PostForm["remove"]
	if len(add) > 0 {
		if err := h.authorize(q, "bedrock:TagResource", pr.ARN, authz.TagResourceKeys(pr.Tags, add)); err != nil {
			h.renderDenied(w, q, "profiles", "bedrock:TagResource", pr.ARN)
			return
		}
	}
	if len(remove) > 0 {
		if err := h.authorize(q, "bedrock:UntagResource", pr.ARN, authz.UntagResourceKeys(pr.Tags, remove)); err != nil {
			h.renderDenied(w, q, "profiles", "bedrock:UntagResource", pr.ARN)
			return
		}
	}
	if len(add) > 0 {
		err = h.opts.Profiles.Tag(q.Context(), q.account, pr.ARN, add)
	}
	if err == nil && len(remove) > 0 {
		err = h.opts.Profiles.Untag(q.Context(), q.account, pr.ARN, remove)
	}
	if err != nil {
		h.renderError(w, q.Request, q, http.StatusBadRequest, "Tags not changed", h.message(q.Request, err))
		return
	}
	done(w, q.Request, "/console/profiles/"+url.PathEscape(pr.ID), "Tags saved.")
}

func (h *Handler) deleteProfile(w http.ResponseWriter, q *req) {
	pr, err := h.opts.Profiles.Get(q.account, q.PathValue("id"))
	if err != nil {
		h.renderError(w, q.Request, q, http.StatusNotFound, "No such inference profile", h.message(q.Request, err))
		return
	}
	if err := h.authorize(q, "bedrock:DeleteInferenceProfile", pr.ARN, authz.ResourceKeys(pr.Tags)); err != nil {
		h.renderDenied(w, q, "profiles", "bedrock:DeleteInferenceProfile", pr.ARN)
		return
	}
	if err := h.opts.Profiles.Delete(q.Context(), q.account, pr.ARN); err != nil {
		h.renderError(w, q.Request, q, http.StatusBadRequest, "Not deleted", h.message(q.Request, err))
		return
	}
	done(w, q.Request, "/console/profiles", "Inference profile "+pr.Name+" deleted.")
}
