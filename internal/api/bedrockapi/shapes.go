package bedrockapi

// Wire shapes of the Bedrock control plane (restJson1), with AWS's member
// names. See shared/reference/bedrock-api.md section 2.

type tagShape struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

type createInferenceProfileInput struct {
	InferenceProfileName *string `json:"inferenceProfileName"`
	Description          *string `json:"description"`
	ClientRequestToken   *string `json:"clientRequestToken"`
	ModelSource          *struct {
		CopyFrom *string `json:"copyFrom"`
	} `json:"modelSource"`
	Tags []tagShape `json:"tags"`
}

type createInferenceProfileOutput struct {
	InferenceProfileArn string `json:"inferenceProfileArn"`
	Status              string `json:"status"`
}

type inferenceProfileModel struct {
	ModelArn string `json:"modelArn"`
}

type inferenceProfileSummary struct {
	InferenceProfileName string                  `json:"inferenceProfileName"`
	Description          string                  `json:"description,omitempty"`
	CreatedAt            string                  `json:"createdAt,omitempty"`
	UpdatedAt            string                  `json:"updatedAt,omitempty"`
	InferenceProfileArn  string                  `json:"inferenceProfileArn"`
	Models               []inferenceProfileModel `json:"models"`
	InferenceProfileID   string                  `json:"inferenceProfileId"`
	Status               string                  `json:"status"`
	Type                 string                  `json:"type"`
}

type listInferenceProfilesOutput struct {
	InferenceProfileSummaries []inferenceProfileSummary `json:"inferenceProfileSummaries"`
	NextToken                 string                    `json:"nextToken,omitempty"`
}

type tagResourceInput struct {
	ResourceARN *string    `json:"resourceARN"`
	Tags        []tagShape `json:"tags"`
}

type untagResourceInput struct {
	ResourceARN *string  `json:"resourceARN"`
	TagKeys     []string `json:"tagKeys"`
}

type listTagsForResourceInput struct {
	ResourceARN *string `json:"resourceARN"`
}

type tagOut struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type listTagsForResourceOutput struct {
	Tags []tagOut `json:"tags"`
}

type modelLifecycle struct {
	Status string `json:"status"`
}

type foundationModelSummary struct {
	ModelArn                   string         `json:"modelArn"`
	ModelID                    string         `json:"modelId"`
	ModelName                  string         `json:"modelName"`
	ProviderName               string         `json:"providerName"`
	InputModalities            []string       `json:"inputModalities"`
	OutputModalities           []string       `json:"outputModalities"`
	ResponseStreamingSupported bool           `json:"responseStreamingSupported"`
	CustomizationsSupported    []string       `json:"customizationsSupported"`
	InferenceTypesSupported    []string       `json:"inferenceTypesSupported"`
	ModelLifecycle             modelLifecycle `json:"modelLifecycle"`
}

type listFoundationModelsOutput struct {
	ModelSummaries []foundationModelSummary `json:"modelSummaries"`
}

type getFoundationModelOutput struct {
	ModelDetails foundationModelSummary `json:"modelDetails"`
}
