package adminapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// ModelRoutes is the answer of GetModelRoutes: what a runtime modelId
// resolves to and, region by region, the provider that would serve a call
// through it. `tollgate bench --endpoint` reads it to refuse sending load
// to a real model without --yes.
type ModelRoutes struct {
	ModelID string `json:"modelId"` // as asked
	// ARN is the application or system profile's ARN, or the foundation
	// model's for a direct call.
	ARN               string       `json:"arn"`
	FoundationModelID string       `json:"foundationModelId"`
	Routes            []ModelRoute `json:"routes"`
}

// ModelRoute is the provider serving a model in one region.
type ModelRoute struct {
	Region string `json:"region"`
	// Provider is the configured provider's name, as usage records carry
	// it; ProviderType is its type: sim, openai or bedrock.
	Provider     string `json:"provider"`
	ProviderType string `json:"providerType"`
}

// ModelRouter resolves modelID as account sees it, as a runtime call
// would, and returns its routes and the tags of the profile it names
// (nil for a foundation model). An unknown model is errkind.NotFound.
type ModelRouter func(account, modelID string) (ModelRoutes, tags.Set, error)

// WithModelRoutes serves GetModelRoutes over r and returns h.
func (h *Handler) WithModelRoutes(r ModelRouter) *Handler {
	h.models = r
	return h
}

func (h *Handler) modelRoutes() []route {
	return []route{
		{Route{Pattern: "GET /tollgate/v1/model-routes/{model}", Op: "GetModelRoutes"}, h.pathModel, h.getModelRoutes},
	}
}

// pathModel targets the profile or foundation model the path's modelId
// resolves to in the caller's account, with a profile's tags as
// aws:ResourceTag keys. A modelId that resolves to nothing is authorized
// on every application profile of the account before NotFound is
// answered.
func (h *Handler) pathModel(r *http.Request) (target, error) {
	account := awsproto.Account(r.Context())
	if h.models == nil {
		return target{}, errkind.New(errkind.Unavailable, "Model routes are not served here.")
	}
	m, t, err := h.models(account, r.PathValue("model"))
	if err != nil {
		if errkind.Is(err, errkind.NotFound) {
			return target{ARN: "arn:aws:bedrock:*:" + account + ":application-inference-profile/*", Account: account, Missing: err}, nil
		}
		return target{}, err
	}
	return target{ARN: m.ARN, Account: account, Keys: authz.ResourceKeys(t)}, nil
}

func (h *Handler) getModelRoutes(w http.ResponseWriter, r *http.Request, t target) error {
	m, _, err := h.models(t.Account, r.PathValue("model"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, m)
}

// GetModelRoutes returns the providers that serve calls through modelID
// (a profile or foundation model id or ARN) in the caller's account.
func (c *Client) GetModelRoutes(ctx context.Context, modelID string) (ModelRoutes, error) {
	var out ModelRoutes
	err := c.call(ctx, http.MethodGet, "/tollgate/v1/model-routes/"+url.PathEscape(modelID), nil, &out)
	return out, err
}
