package awsproto

import (
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Expression is Cost Explorer's Expression shape, which Budgets'
// FilterExpression shares: a filter over dimensions, tags and cost
// categories combined with And, Or and Not.
type Expression struct {
	And            []Expression      `json:"And,omitempty"`
	Or             []Expression      `json:"Or,omitempty"`
	Not            *Expression       `json:"Not,omitempty"`
	Dimensions     *ExpressionValues `json:"Dimensions,omitempty"`
	Tags           *ExpressionValues `json:"Tags,omitempty"`
	CostCategories *ExpressionValues `json:"CostCategories,omitempty"`
}

// ExpressionValues is the shape of an Expression's Dimensions, Tags and
// CostCategories (DimensionValues, TagValues, CostCategoryValues).
type ExpressionValues struct {
	Key          *string  `json:"Key,omitempty"`
	Values       []string `json:"Values,omitempty"`
	MatchOptions []string `json:"MatchOptions,omitempty"`
}

// Query translates e (nil gives nil), refusing one that nests deeper
// than costquery.MaxFilterDepth; the result is not otherwise validated.
func (e *Expression) Query() (*costquery.Expr, error) {
	if e.depth(costquery.MaxFilterDepth+1) > costquery.MaxFilterDepth {
		return nil, errkind.New(errkind.Invalid, "The filter expression nests more than %d levels deep.", costquery.MaxFilterDepth)
	}
	return e.query(), nil
}

// depth returns how deeply e nests, stopping past limit.
func (e *Expression) depth(limit int) int {
	if e == nil || limit < 0 {
		return 0
	}
	d := e.Not.depth(limit - 1)
	for _, l := range [][]Expression{e.And, e.Or} {
		for i := range l {
			d = max(d, l[i].depth(limit-1))
		}
	}
	return d + 1
}

func (e *Expression) query() *costquery.Expr {
	if e == nil {
		return nil
	}
	out := &costquery.Expr{Not: e.Not.query(), Dimensions: e.Dimensions.query(), Tags: e.Tags.query(), CostCategories: e.CostCategories.query()}
	if e.And != nil {
		out.And = make([]costquery.Expr, len(e.And))
		for i := range e.And {
			out.And[i] = *e.And[i].query()
		}
	}
	if e.Or != nil {
		out.Or = make([]costquery.Expr, len(e.Or))
		for i := range e.Or {
			out.Or[i] = *e.Or[i].query()
		}
	}
	return out
}

func (v *ExpressionValues) query() *costquery.Values {
	if v == nil {
		return nil
	}
	out := &costquery.Values{Values: v.Values}
	if v.Key != nil {
		out.Key = *v.Key
	}
	for _, m := range v.MatchOptions {
		out.MatchOptions = append(out.MatchOptions, costquery.MatchOption(m))
	}
	return out
}

// ExpressionOf is the wire form of a cost filter (nil gives nil).
func ExpressionOf(e *costquery.Expr) *Expression {
	if e == nil {
		return nil
	}
	out := &Expression{Not: ExpressionOf(e.Not), Dimensions: valuesOf(e.Dimensions), Tags: valuesOf(e.Tags), CostCategories: valuesOf(e.CostCategories)}
	for i := range e.And {
		out.And = append(out.And, *ExpressionOf(&e.And[i]))
	}
	for i := range e.Or {
		out.Or = append(out.Or, *ExpressionOf(&e.Or[i]))
	}
	return out
}

func valuesOf(v *costquery.Values) *ExpressionValues {
	if v == nil {
		return nil
	}
	key := v.Key
	out := &ExpressionValues{Key: &key, Values: v.Values}
	for _, m := range v.MatchOptions {
		out.MatchOptions = append(out.MatchOptions, string(m))
	}
	return out
}
