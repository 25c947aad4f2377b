package ceapi

import "github.com/tollgate-dev/tollgate/internal/api/awsproto"

// Wire shapes of Cost Explorer (awsJson1_1), with AWS's member names.

type dateInterval struct {
	Start *string `json:"Start"`
	End   *string `json:"End"`
}

type dateIntervalOut struct {
	Start string `json:"Start"`
	End   string `json:"End"`
}

type groupDefinition struct {
	Type *string `json:"Type"`
	Key  *string `json:"Key"`
}

type groupDefinitionOut struct {
	Type string `json:"Type"`
	Key  string `json:"Key"`
}

type getCostAndUsageInput struct {
	TimePeriod     *dateInterval        `json:"TimePeriod"`
	Granularity    *string              `json:"Granularity"`
	Metrics        []string             `json:"Metrics"`
	Filter         *awsproto.Expression `json:"Filter"`
	GroupBy        []groupDefinition    `json:"GroupBy"`
	BillingViewArn *string              `json:"BillingViewArn"`
	NextPageToken  *string              `json:"NextPageToken"`
}

type metricValue struct {
	Amount string `json:"Amount"`
	Unit   string `json:"Unit"`
}

type groupOut struct {
	Keys    []string               `json:"Keys"`
	Metrics map[string]metricValue `json:"Metrics"`
}

type resultByTime struct {
	TimePeriod dateIntervalOut        `json:"TimePeriod"`
	Total      map[string]metricValue `json:"Total"`
	Groups     []groupOut             `json:"Groups"`
	Estimated  bool                   `json:"Estimated"`
}

type dimensionValuesWithAttributes struct {
	Value      string            `json:"Value"`
	Attributes map[string]string `json:"Attributes"`
}

type getCostAndUsageOutput struct {
	GroupDefinitions         []groupDefinitionOut            `json:"GroupDefinitions,omitempty"`
	ResultsByTime            []resultByTime                  `json:"ResultsByTime"`
	DimensionValueAttributes []dimensionValuesWithAttributes `json:"DimensionValueAttributes"`
	NextPageToken            string                          `json:"NextPageToken,omitempty"`
}

type sortDefinition struct {
	Key       *string `json:"Key"`
	SortOrder *string `json:"SortOrder"`
}

type getDimensionValuesInput struct {
	TimePeriod     *dateInterval        `json:"TimePeriod"`
	Dimension      *string              `json:"Dimension"`
	Context        *string              `json:"Context"`
	Filter         *awsproto.Expression `json:"Filter"`
	SearchString   *string              `json:"SearchString"`
	SortBy         []sortDefinition     `json:"SortBy"`
	MaxResults     *int32               `json:"MaxResults"`
	BillingViewArn *string              `json:"BillingViewArn"`
	NextPageToken  *string              `json:"NextPageToken"`
}

type getDimensionValuesOutput struct {
	DimensionValues []dimensionValuesWithAttributes `json:"DimensionValues"`
	ReturnSize      int                             `json:"ReturnSize"`
	TotalSize       int                             `json:"TotalSize"`
	NextPageToken   string                          `json:"NextPageToken,omitempty"`
}

type getTagsInput struct {
	TimePeriod     *dateInterval        `json:"TimePeriod"`
	TagKey         *string              `json:"TagKey"`
	Filter         *awsproto.Expression `json:"Filter"`
	SearchString   *string              `json:"SearchString"`
	SortBy         []sortDefinition     `json:"SortBy"`
	MaxResults     *int32               `json:"MaxResults"`
	BillingViewArn *string              `json:"BillingViewArn"`
	NextPageToken  *string              `json:"NextPageToken"`
}

type getTagsOutput struct {
	Tags          []string `json:"Tags"`
	ReturnSize    int      `json:"ReturnSize"`
	TotalSize     int      `json:"TotalSize"`
	NextPageToken string   `json:"NextPageToken,omitempty"`
}

type getCostForecastInput struct {
	TimePeriod              *dateInterval        `json:"TimePeriod"`
	Metric                  *string              `json:"Metric"`
	Granularity             *string              `json:"Granularity"`
	Filter                  *awsproto.Expression `json:"Filter"`
	PredictionIntervalLevel *int32               `json:"PredictionIntervalLevel"`
	BillingViewArn          *string              `json:"BillingViewArn"`
}

type forecastResult struct {
	TimePeriod                   dateIntervalOut `json:"TimePeriod"`
	MeanValue                    string          `json:"MeanValue"`
	PredictionIntervalLowerBound string          `json:"PredictionIntervalLowerBound"`
	PredictionIntervalUpperBound string          `json:"PredictionIntervalUpperBound"`
}

type getCostForecastOutput struct {
	Total                 metricValue      `json:"Total"`
	ForecastResultsByTime []forecastResult `json:"ForecastResultsByTime"`
}
