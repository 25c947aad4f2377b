package cloudwatchapi

import "github.com/tollgate-dev/tollgate/internal/api/awsproto"

// epoch is a timestamp on the wire: epoch seconds (a JSON number, or a
// CBOR tag 1 float).
type epoch = awsproto.Timestamp

// Wire shapes of CloudWatch, with AWS's member names. Inputs use pointers
// for optional members; timestamps arrive as epoch seconds.

type dimension struct {
	Name  *string `json:"Name"`
	Value *string `json:"Value"`
}

type metricShape struct {
	Namespace  *string     `json:"Namespace"`
	MetricName *string     `json:"MetricName"`
	Dimensions []dimension `json:"Dimensions"`
}

type metricStat struct {
	Metric *metricShape `json:"Metric"`
	Period *int32       `json:"Period"`
	Stat   *string      `json:"Stat"`
	Unit   *string      `json:"Unit"`
}

type metricDataQuery struct {
	Id         *string     `json:"Id"`
	AccountId  *string     `json:"AccountId"`
	Expression *string     `json:"Expression"`
	Label      *string     `json:"Label"`
	MetricStat *metricStat `json:"MetricStat"`
	Period     *int32      `json:"Period"`
	ReturnData *bool       `json:"ReturnData"`
}

type labelOptions struct {
	Timezone *string `json:"Timezone"`
}

type getMetricDataInput struct {
	MetricDataQueries []metricDataQuery `json:"MetricDataQueries"`
	StartTime         *float64          `json:"StartTime"`
	EndTime           *float64          `json:"EndTime"`
	NextToken         *string           `json:"NextToken"`
	ScanBy            *string           `json:"ScanBy"`
	MaxDatapoints     *int32            `json:"MaxDatapoints"`
	LabelOptions      *labelOptions     `json:"LabelOptions"`
}

type messageData struct {
	Code  string `json:"Code,omitempty"`
	Value string `json:"Value,omitempty"`
}

type metricDataResult struct {
	Id         string        `json:"Id"`
	Label      string        `json:"Label"`
	Timestamps []epoch       `json:"Timestamps"`
	Values     []float64     `json:"Values"`
	StatusCode string        `json:"StatusCode"`
	Messages   []messageData `json:"Messages"`
}

type getMetricDataOutput struct {
	MetricDataResults []metricDataResult `json:"MetricDataResults"`
	NextToken         string             `json:"NextToken,omitempty"`
	Messages          []messageData      `json:"Messages"`
}

type getMetricStatisticsInput struct {
	Namespace          *string     `json:"Namespace"`
	MetricName         *string     `json:"MetricName"`
	Dimensions         []dimension `json:"Dimensions"`
	StartTime          *float64    `json:"StartTime"`
	EndTime            *float64    `json:"EndTime"`
	Period             *int32      `json:"Period"`
	Statistics         []string    `json:"Statistics"`
	ExtendedStatistics []string    `json:"ExtendedStatistics"`
	Unit               *string     `json:"Unit"`
}

type datapoint struct {
	Timestamp          epoch              `json:"Timestamp"`
	SampleCount        *float64           `json:"SampleCount,omitempty"`
	Average            *float64           `json:"Average,omitempty"`
	Sum                *float64           `json:"Sum,omitempty"`
	Minimum            *float64           `json:"Minimum,omitempty"`
	Maximum            *float64           `json:"Maximum,omitempty"`
	Unit               string             `json:"Unit,omitempty"`
	ExtendedStatistics map[string]float64 `json:"ExtendedStatistics,omitempty"`
}

type getMetricStatisticsOutput struct {
	Label      string      `json:"Label"`
	Datapoints []datapoint `json:"Datapoints"`
}

type dimensionFilter struct {
	Name  *string `json:"Name"`
	Value *string `json:"Value"`
}

type listMetricsInput struct {
	Namespace             *string           `json:"Namespace"`
	MetricName            *string           `json:"MetricName"`
	Dimensions            []dimensionFilter `json:"Dimensions"`
	NextToken             *string           `json:"NextToken"`
	RecentlyActive        *string           `json:"RecentlyActive"`
	IncludeLinkedAccounts *bool             `json:"IncludeLinkedAccounts"`
	OwningAccount         *string           `json:"OwningAccount"`
}

type outDimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type outMetric struct {
	Namespace  string         `json:"Namespace"`
	MetricName string         `json:"MetricName"`
	Dimensions []outDimension `json:"Dimensions"`
}

type listMetricsOutput struct {
	Metrics   []outMetric `json:"Metrics"`
	NextToken string      `json:"NextToken,omitempty"`
}

type tagShape struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type putMetricAlarmInput struct {
	AlarmName                        *string           `json:"AlarmName"`
	AlarmDescription                 *string           `json:"AlarmDescription"`
	ActionsEnabled                   *bool             `json:"ActionsEnabled"`
	OKActions                        []string          `json:"OKActions"`
	AlarmActions                     []string          `json:"AlarmActions"`
	InsufficientDataActions          []string          `json:"InsufficientDataActions"`
	MetricName                       *string           `json:"MetricName"`
	Namespace                        *string           `json:"Namespace"`
	Statistic                        *string           `json:"Statistic"`
	ExtendedStatistic                *string           `json:"ExtendedStatistic"`
	Dimensions                       []dimension       `json:"Dimensions"`
	Period                           *int32            `json:"Period"`
	Unit                             *string           `json:"Unit"`
	EvaluationPeriods                *int32            `json:"EvaluationPeriods"`
	DatapointsToAlarm                *int32            `json:"DatapointsToAlarm"`
	Threshold                        *float64          `json:"Threshold"`
	ComparisonOperator               *string           `json:"ComparisonOperator"`
	TreatMissingData                 *string           `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile *string           `json:"EvaluateLowSampleCountPercentile"`
	Metrics                          []metricDataQuery `json:"Metrics"`
	Tags                             []tagShape        `json:"Tags"`
	ThresholdMetricId                *string           `json:"ThresholdMetricId"`
	// Newer members Tollgate does not support; present means an error.
	EvaluationCriteria  any `json:"EvaluationCriteria"`
	EvaluationInterval  any `json:"EvaluationInterval"`
	EvaluationWindow    any `json:"EvaluationWindow"`
	ActionConfiguration any `json:"ActionConfiguration"`
	WarmUpConfiguration any `json:"WarmUpConfiguration"`
}

type metricAlarm struct {
	AlarmName                          string         `json:"AlarmName"`
	AlarmArn                           string         `json:"AlarmArn"`
	AlarmDescription                   string         `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp epoch          `json:"AlarmConfigurationUpdatedTimestamp"`
	ActionsEnabled                     bool           `json:"ActionsEnabled"`
	OKActions                          []string       `json:"OKActions"`
	AlarmActions                       []string       `json:"AlarmActions"`
	InsufficientDataActions            []string       `json:"InsufficientDataActions"`
	StateValue                         string         `json:"StateValue"`
	StateReason                        string         `json:"StateReason"`
	StateReasonData                    string         `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              epoch          `json:"StateUpdatedTimestamp"`
	StateTransitionedTimestamp         epoch          `json:"StateTransitionedTimestamp"`
	MetricName                         string         `json:"MetricName"`
	Namespace                          string         `json:"Namespace"`
	Statistic                          string         `json:"Statistic,omitempty"`
	ExtendedStatistic                  string         `json:"ExtendedStatistic,omitempty"`
	Dimensions                         []outDimension `json:"Dimensions"`
	Period                             int32          `json:"Period"`
	Unit                               string         `json:"Unit,omitempty"`
	EvaluationPeriods                  int32          `json:"EvaluationPeriods"`
	DatapointsToAlarm                  int32          `json:"DatapointsToAlarm"`
	Threshold                          float64        `json:"Threshold"`
	ComparisonOperator                 string         `json:"ComparisonOperator"`
	TreatMissingData                   string         `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile   string         `json:"EvaluateLowSampleCountPercentile,omitempty"`
}

type describeAlarmsInput struct {
	AlarmNames          []string `json:"AlarmNames"`
	AlarmNamePrefix     *string  `json:"AlarmNamePrefix"`
	AlarmTypes          []string `json:"AlarmTypes"`
	ChildrenOfAlarmName *string  `json:"ChildrenOfAlarmName"`
	ParentsOfAlarmName  *string  `json:"ParentsOfAlarmName"`
	StateValue          *string  `json:"StateValue"`
	ActionPrefix        *string  `json:"ActionPrefix"`
	MaxRecords          *int32   `json:"MaxRecords"`
	NextToken           *string  `json:"NextToken"`
}

type describeAlarmsOutput struct {
	MetricAlarms    []metricAlarm `json:"MetricAlarms"`
	CompositeAlarms []any         `json:"CompositeAlarms"`
	NextToken       string        `json:"NextToken,omitempty"`
}

type describeAlarmsForMetricInput struct {
	MetricName        *string     `json:"MetricName"`
	Namespace         *string     `json:"Namespace"`
	Statistic         *string     `json:"Statistic"`
	ExtendedStatistic *string     `json:"ExtendedStatistic"`
	Dimensions        []dimension `json:"Dimensions"`
	Period            *int32      `json:"Period"`
	Unit              *string     `json:"Unit"`
}

type describeAlarmsForMetricOutput struct {
	MetricAlarms []metricAlarm `json:"MetricAlarms"`
}

type describeAlarmHistoryInput struct {
	AlarmName          *string  `json:"AlarmName"`
	AlarmContributorId *string  `json:"AlarmContributorId"`
	AlarmTypes         []string `json:"AlarmTypes"`
	HistoryItemType    *string  `json:"HistoryItemType"`
	StartDate          *float64 `json:"StartDate"`
	EndDate            *float64 `json:"EndDate"`
	MaxRecords         *int32   `json:"MaxRecords"`
	NextToken          *string  `json:"NextToken"`
	ScanBy             *string  `json:"ScanBy"`
}

type alarmHistoryItem struct {
	AlarmName       string `json:"AlarmName"`
	AlarmType       string `json:"AlarmType"`
	Timestamp       epoch  `json:"Timestamp"`
	HistoryItemType string `json:"HistoryItemType"`
	HistorySummary  string `json:"HistorySummary"`
	HistoryData     string `json:"HistoryData"`
}

type describeAlarmHistoryOutput struct {
	AlarmHistoryItems []alarmHistoryItem `json:"AlarmHistoryItems"`
	NextToken         string             `json:"NextToken,omitempty"`
}

type alarmNamesInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

type setAlarmStateInput struct {
	AlarmName       *string `json:"AlarmName"`
	StateValue      *string `json:"StateValue"`
	StateReason     *string `json:"StateReason"`
	StateReasonData *string `json:"StateReasonData"`
}

type empty struct{}
