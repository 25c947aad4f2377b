package taggingapi

// Wire shapes of the Tagging API, with AWS's member names.

type tagFilter struct {
	Key    *string  `json:"Key"`
	Values []string `json:"Values"`
}

type getResourcesInput struct {
	PaginationToken           *string     `json:"PaginationToken"`
	TagFilters                []tagFilter `json:"TagFilters"`
	ResourcesPerPage          *int32      `json:"ResourcesPerPage"`
	TagsPerPage               *int32      `json:"TagsPerPage"`
	ResourceTypeFilters       []string    `json:"ResourceTypeFilters"`
	IncludeComplianceDetails  *bool       `json:"IncludeComplianceDetails"`
	ExcludeCompliantResources *bool       `json:"ExcludeCompliantResources"`
	ResourceARNList           []string    `json:"ResourceARNList"`
}

type tagShape struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type resourceTagMapping struct {
	ResourceARN string     `json:"ResourceARN"`
	Tags        []tagShape `json:"Tags"`
}

type getResourcesOutput struct {
	PaginationToken        string               `json:"PaginationToken,omitempty"`
	ResourceTagMappingList []resourceTagMapping `json:"ResourceTagMappingList"`
}

type getTagKeysInput struct {
	PaginationToken *string `json:"PaginationToken"`
}

type getTagKeysOutput struct {
	PaginationToken string   `json:"PaginationToken,omitempty"`
	TagKeys         []string `json:"TagKeys"`
}

type getTagValuesInput struct {
	Key             *string `json:"Key"`
	PaginationToken *string `json:"PaginationToken"`
}

type getTagValuesOutput struct {
	PaginationToken string   `json:"PaginationToken,omitempty"`
	TagValues       []string `json:"TagValues"`
}

type tagResourcesInput struct {
	ResourceARNList []string          `json:"ResourceARNList"`
	Tags            map[string]string `json:"Tags"`
}

type untagResourcesInput struct {
	ResourceARNList []string `json:"ResourceARNList"`
	TagKeys         []string `json:"TagKeys"`
}

type failureInfo struct {
	StatusCode   int    `json:"StatusCode"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

type failedOutput struct {
	FailedResourcesMap map[string]failureInfo `json:"FailedResourcesMap"`
}
