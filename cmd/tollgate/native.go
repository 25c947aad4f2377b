package main

import (
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/native"
)

// nativeCodecs adapts package native to the interface the pipeline declares.
type nativeCodecs struct{}

func (nativeCodecs) For(family string) (invoke.NativeCodec, bool) {
	c, ok := native.For(family)
	if !ok {
		return nil, false
	}
	return codecAdapter{c}, true
}

func (nativeCodecs) Embed(family string, body []byte, tokens func(string) int64) ([]byte, invoke.Usage, error) {
	return native.Embed(family, body, tokens)
}

func (nativeCodecs) UsageFromResponse(family string, body []byte) (invoke.Usage, bool) {
	return native.UsageFromResponse(family, body)
}

type codecAdapter struct{ native.Codec }

func (a codecAdapter) Stream(modelID string) invoke.NativeStreamEncoder {
	return a.Codec.Stream(modelID)
}
