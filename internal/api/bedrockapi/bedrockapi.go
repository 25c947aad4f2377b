// Package bedrockapi serves the Amazon Bedrock control plane (restJson1) for
// inference profiles, their tags and the foundation-model catalogue, wire
// compatible with aws-sdk-go-v2/service/bedrock. Handlers decode, validate
// the wire shape, call the profile domain and encode; nothing else.
package bedrockapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Handler serves the Bedrock control-plane operations.
type Handler struct {
	profiles *profile.Service
}

// New returns a Handler over the profile service.
func New(profiles *profile.Service) *Handler { return &Handler{profiles: profiles} }

// Route is one control-plane operation: its HTTP pattern and its name.
type Route = awsproto.Route

// api is the control plane's table of operations.
func (h *Handler) api() awsproto.RestAPI {
	return awsproto.RestAPI{Label: "bedrock", Codes: awsproto.BedrockCodes, Ops: []awsproto.RestOp{
		{Route: awsproto.Route{Pattern: "POST /inference-profiles", Op: "CreateInferenceProfile"}, Handle: h.createInferenceProfile},
		{Route: awsproto.Route{Pattern: "GET /inference-profiles", Op: "ListInferenceProfiles"}, Handle: h.listInferenceProfiles},
		{Route: awsproto.Route{Pattern: "GET /inference-profiles/{id}", Op: "GetInferenceProfile"}, Handle: h.getInferenceProfile},
		{Route: awsproto.Route{Pattern: "DELETE /inference-profiles/{id}", Op: "DeleteInferenceProfile"}, Handle: h.deleteInferenceProfile},
		{Route: awsproto.Route{Pattern: "POST /tagResource", Op: "TagResource"}, Handle: h.tagResource},
		{Route: awsproto.Route{Pattern: "POST /untagResource", Op: "UntagResource"}, Handle: h.untagResource},
		{Route: awsproto.Route{Pattern: "POST /listTagsForResource", Op: "ListTagsForResource"}, Handle: h.listTagsForResource},
		{Route: awsproto.Route{Pattern: "GET /foundation-models", Op: "ListFoundationModels"}, Handle: h.listFoundationModels},
		{Route: awsproto.Route{Pattern: "GET /foundation-models/{id}", Op: "GetFoundationModel"}, Handle: h.getFoundationModel},
	}}
}

// Routes lists the control-plane operations Register adds.
func Routes() []Route { return (&Handler{}).api().Routes() }

// Register adds the control-plane routes to mux.
func (h *Handler) Register(mux *http.ServeMux) { h.api().Register(mux) }

// authorizeProfile checks action on an existing profile, with its tags as
// resource condition keys.
func authorizeProfile(r *http.Request, action string, p profile.Profile, extra func(map[string][]string)) error {
	keys := authz.ResourceKeys(p.Tags)
	if extra != nil {
		extra(keys)
	}
	return awsproto.Authorize(r.Context(), action, p.ARN, keys)
}

func writeOK(w http.ResponseWriter, status int, v any) error {
	return awsproto.WriteJSON(w, status, "application/json", v)
}

func required(field string) error {
	return errkind.New(errkind.Invalid, "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must not be null", field)
}

func wireTags(in []tagShape) ([]tags.Tag, error) {
	out := make([]tags.Tag, 0, len(in))
	for i, t := range in {
		if t.Key == nil {
			return nil, required("tags." + strconv.Itoa(i+1) + ".member.key")
		}
		if t.Value == nil {
			return nil, required("tags." + strconv.Itoa(i+1) + ".member.value")
		}
		out = append(out, tags.Tag{Key: *t.Key, Value: *t.Value})
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h *Handler) createInferenceProfile(w http.ResponseWriter, r *http.Request) error {
	var in createInferenceProfileInput
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	if in.InferenceProfileName == nil {
		return required("inferenceProfileName")
	}
	if in.ModelSource == nil || in.ModelSource.CopyFrom == nil {
		return required("modelSource")
	}
	if in.Description != nil && *in.Description == "" {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	tl, err := wireTags(in.Tags)
	if err != nil {
		return err
	}
	account := awsproto.Account(r.Context())
	keys := authz.AddRequestTags(map[string][]string{}, tl)
	newARN := arn.ApplicationProfile(h.profiles.Region(), account, "*")
	if err := awsproto.Authorize(r.Context(), "bedrock:CreateInferenceProfile", newARN, keys); err != nil {
		return err
	}
	if err := awsproto.Authorize(r.Context(), "bedrock:CreateInferenceProfile", *in.ModelSource.CopyFrom, keys); err != nil {
		return err
	}
	p, err := h.profiles.Create(r.Context(), profile.CreateInput{
		Account:            awsproto.Account(r.Context()),
		Name:               *in.InferenceProfileName,
		Description:        deref(in.Description),
		CopyFrom:           *in.ModelSource.CopyFrom,
		Tags:               tl,
		ClientRequestToken: deref(in.ClientRequestToken),
	})
	if err != nil {
		return err
	}
	return writeOK(w, http.StatusCreated, createInferenceProfileOutput{InferenceProfileArn: p.ARN, Status: profile.StatusActive})
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func summary(p profile.Profile) inferenceProfileSummary {
	models := make([]inferenceProfileModel, len(p.ModelARNs))
	for i, a := range p.ModelARNs {
		models[i] = inferenceProfileModel{ModelArn: a}
	}
	return inferenceProfileSummary{
		InferenceProfileName: p.Name,
		Description:          p.Description,
		CreatedAt:            timestamp(p.CreatedAt),
		UpdatedAt:            timestamp(p.UpdatedAt),
		InferenceProfileArn:  p.ARN,
		Models:               models,
		InferenceProfileID:   p.ID,
		Status:               profile.StatusActive,
		Type:                 string(p.Type),
	}
}

func (h *Handler) getInferenceProfile(w http.ResponseWriter, r *http.Request) error {
	p, err := h.profiles.Get(awsproto.Account(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := authorizeProfile(r, "bedrock:GetInferenceProfile", p, nil); err != nil {
		return err
	}
	return writeOK(w, http.StatusOK, summary(p))
}

func (h *Handler) deleteInferenceProfile(w http.ResponseWriter, r *http.Request) error {
	if p, err := h.profiles.Get(awsproto.Account(r.Context()), r.PathValue("id")); err == nil {
		if err := authorizeProfile(r, "bedrock:DeleteInferenceProfile", p, nil); err != nil {
			return err
		}
	}
	if err := h.profiles.Delete(r.Context(), awsproto.Account(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	return writeOK(w, http.StatusOK, struct{}{})
}

// tokens are ListInferenceProfiles' nextTokens, bound to the type
// listed; the cursor is the sort key of the last item returned.
var tokens = awsproto.Tokens{Member: "nextToken"}

// listBind is what a nextToken continues: the listing of one type (the
// page size may change between pages).
type listBind struct {
	Type string `json:"type"`
}

func sortKey(p profile.Profile) string {
	if p.Type == profile.SystemDefined {
		return p.ID
	}
	return strconv.FormatInt(p.CreatedAt.UnixMilli(), 36) + "/" + strconv.Itoa(len(p.ID)) + p.ID
}

func (h *Handler) listInferenceProfiles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 1000
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000", s)
		}
		limit = n
	}
	if err := awsproto.Authorize(r.Context(), "bedrock:ListInferenceProfiles", "*", nil); err != nil {
		return err
	}
	typ := q.Get("type")
	account := awsproto.Account(r.Context())
	var all []profile.Profile
	switch typ {
	case "", string(profile.SystemDefined):
		typ = string(profile.SystemDefined)
		all = h.profiles.ListSystem(account)
	case string(profile.Application):
		all = h.profiles.ListApplication(account)
	default:
		return errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at 'typeEquals' failed to satisfy constraint: Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]", typ)
	}
	bind := listBind{Type: typ}
	tok := q.Get("nextToken")
	last, err := tokens.Read(r.Context(), &tok, bind)
	if err != nil {
		return err
	}
	start := 0
	if last != "" {
		// Both lists are sorted by sortKey; resume after the last key, so a
		// deletion between pages neither repeats nor skips an item.
		start, _ = slices.BinarySearchFunc(all, last, func(p profile.Profile, k string) int {
			return strings.Compare(sortKey(p), k)
		})
		if start < len(all) && sortKey(all[start]) == last {
			start++
		}
	}
	end := min(start+limit, len(all))
	out := listInferenceProfilesOutput{InferenceProfileSummaries: make([]inferenceProfileSummary, 0, end-start)}
	for _, p := range all[start:end] {
		out.InferenceProfileSummaries = append(out.InferenceProfileSummaries, summary(p))
	}
	if end < len(all) {
		out.NextToken = tokens.Next(r.Context(), bind, sortKey(all[end-1]))
	}
	return writeOK(w, http.StatusOK, out)
}

func (h *Handler) tagResource(w http.ResponseWriter, r *http.Request) error {
	var in tagResourceInput
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	if in.ResourceARN == nil {
		return required("resourceARN")
	}
	if in.Tags == nil {
		return required("tags")
	}
	tl, err := wireTags(in.Tags)
	if err != nil {
		return err
	}
	current, _ := h.profiles.TagsOf(awsproto.Account(r.Context()), *in.ResourceARN)
	if err := awsproto.Authorize(r.Context(), "bedrock:TagResource", *in.ResourceARN, authz.TagResourceKeys(current, tl)); err != nil {
		return err
	}
	if err := h.profiles.Tag(r.Context(), awsproto.Account(r.Context()), *in.ResourceARN, tl); err != nil {
		return err
	}
	return writeOK(w, http.StatusOK, struct{}{})
}

func (h *Handler) untagResource(w http.ResponseWriter, r *http.Request) error {
	var in untagResourceInput
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	if in.ResourceARN == nil {
		return required("resourceARN")
	}
	if in.TagKeys == nil {
		return required("tagKeys")
	}
	current, _ := h.profiles.TagsOf(awsproto.Account(r.Context()), *in.ResourceARN)
	if err := awsproto.Authorize(r.Context(), "bedrock:UntagResource", *in.ResourceARN, authz.UntagResourceKeys(current, in.TagKeys)); err != nil {
		return err
	}
	if err := h.profiles.Untag(r.Context(), awsproto.Account(r.Context()), *in.ResourceARN, in.TagKeys); err != nil {
		return err
	}
	return writeOK(w, http.StatusOK, struct{}{})
}

func (h *Handler) listTagsForResource(w http.ResponseWriter, r *http.Request) error {
	var in listTagsForResourceInput
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	if in.ResourceARN == nil {
		return required("resourceARN")
	}
	list, err := h.profiles.ListTags(awsproto.Account(r.Context()), *in.ResourceARN)
	if err != nil {
		return err
	}
	if err := awsproto.Authorize(r.Context(), "bedrock:ListTagsForResource", *in.ResourceARN, authz.ResourceKeys(tags.FromList(list))); err != nil {
		return err
	}
	out := listTagsForResourceOutput{Tags: make([]tagOut, len(list))}
	for i, t := range list {
		out.Tags[i] = tagOut{Key: t.Key, Value: t.Value}
	}
	return writeOK(w, http.StatusOK, out)
}

func modelSummary(region string, m catalog.Model) foundationModelSummary {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return foundationModelSummary{
		ModelArn:                   arn.FoundationModel(region, m.ID),
		ModelID:                    m.ID,
		ModelName:                  m.Name,
		ProviderName:               m.Provider,
		InputModalities:            nz(m.InputModalities),
		OutputModalities:           nz(m.OutputModalities),
		ResponseStreamingSupported: m.Streaming,
		CustomizationsSupported:    nz(m.Customizations),
		InferenceTypesSupported:    inferenceTypes(region, m),
		ModelLifecycle:             modelLifecycle{Status: m.Lifecycle},
	}
}

// inferenceTypes are m's inferenceTypesSupported in region: its own where
// it is offered in-region, and ["INFERENCE_PROFILE"] where only a
// cross-region profile reaches it, as Bedrock lists such models.
func inferenceTypes(region string, m catalog.Model) []string {
	if !slices.Contains(m.Regions, region) {
		return []string{"INFERENCE_PROFILE"}
	}
	if m.InferenceTypes == nil {
		return []string{}
	}
	return m.InferenceTypes
}

var enums = map[string][]string{
	"byOutputModality":    {"TEXT", "IMAGE", "EMBEDDING"},
	"byInferenceType":     {"ON_DEMAND", "PROVISIONED"},
	"byCustomizationType": {"FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"},
}

func (h *Handler) listFoundationModels(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for name, values := range enums {
		if v := q.Get(name); v != "" && !slices.Contains(values, v) {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, name, strings.Join(values, ", "))
		}
	}
	if err := awsproto.Authorize(r.Context(), "bedrock:ListFoundationModels", "*", nil); err != nil {
		return err
	}
	provider := q.Get("byProvider")
	if provider != "" && !validProvider(provider) {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at 'byProvider' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[A-Za-z0-9- ]{1,63}$", provider)
	}
	region := h.profiles.Region()
	out := listFoundationModelsOutput{ModelSummaries: []foundationModelSummary{}}
	for _, m := range h.profiles.Catalog().ModelsOfferedIn(region) {
		if provider != "" && !strings.EqualFold(provider, m.Provider) && !strings.EqualFold(provider, providerPrefix(m.ID)) {
			continue
		}
		if v := q.Get("byOutputModality"); v != "" && !slices.Contains(m.OutputModalities, v) {
			continue
		}
		if v := q.Get("byInferenceType"); v != "" && !slices.Contains(inferenceTypes(region, m), v) {
			continue
		}
		if v := q.Get("byCustomizationType"); v != "" && !slices.Contains(m.Customizations, v) {
			continue
		}
		out.ModelSummaries = append(out.ModelSummaries, modelSummary(region, m))
	}
	return writeOK(w, http.StatusOK, out)
}

func providerPrefix(id string) string {
	p, _, _ := strings.Cut(id, ".")
	return p
}

func validProvider(s string) bool {
	if len(s) > 63 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == ' ') {
			return false
		}
	}
	return true
}

func (h *Handler) getFoundationModel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	region := h.profiles.Region()
	if strings.HasPrefix(id, "arn:") {
		a, err := arn.Bedrock(id, arn.TypeFoundationModel)
		if err != nil {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'modelIdentifier' failed to satisfy constraint: Member must be a model id or foundation-model ARN")
		}
		if a.Region != region {
			return errkind.New(errkind.Invalid, "The ARN %s is in region %q, but this endpoint serves %q.", id, a.Region, region)
		}
		id = a.ID()
	}
	m, ok := h.profiles.Catalog().Model(id)
	if !ok || !slices.ContainsFunc(h.profiles.Catalog().ModelsOfferedIn(region), func(o catalog.Model) bool { return o.ID == id }) {
		return errkind.New(errkind.NotFound, "The foundation model %s could not be found in %s.", id, region)
	}
	if err := awsproto.Authorize(r.Context(), "bedrock:GetFoundationModel", arn.FoundationModel(region, m.ID), nil); err != nil {
		return err
	}
	return writeOK(w, http.StatusOK, getFoundationModelOutput{ModelDetails: modelSummary(region, m)})
}
