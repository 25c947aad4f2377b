package invoke

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/native"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

func isEmbedding(family string) bool { return family == "titan-embed" || family == "cohere-embed" }

// InvokeModel runs an InvokeModel call: a native body passes as is to a
// NativeInvoker provider, and is translated through Converse otherwise.
func (s *Service) InvokeModel(ctx context.Context, caller Caller, modelID string, in converse.NativeRequest) (converse.NativeResponse, error) {
	c, err := s.begin(caller, OpInvoke, modelID)
	if err != nil {
		return converse.NativeResponse{}, err
	}
	// The body is parsed once: for the admission's output bound and, on a
	// provider without native bodies, for the translation (a downgrade keeps
	// the model family, so the parse stays valid).
	nb := s.parseNative(c.target.Model.Family, in.Body)
	family := c.target.Model.Family
	var img native.ImageRequest
	var imgErr error
	if native.IsImageFamily(family) {
		img, imgErr = native.ParseImageRequest(family, in.Body)
		c.askedUnits = imageUnits(img, img.Count)
	}
	if err := c.admit(ctx, in.Body, maxTokensOf(nb.req)); err != nil {
		return converse.NativeResponse{}, c.reject(ctx, err)
	}
	var resp converse.NativeResponse
	defer c.settlePanic(ctx, &resp.Usage)
	err = c.attempt(ctx, func(ctx context.Context, cl converse.Call, r Route) error {
		actx, cancel := c.withTimeout(ctx)
		defer cancel()
		c.units = pricing.UnitUsage{}
		if ni, ok := r.Provider.(NativeInvoker); ok {
			var err error
			resp, err = ni.InvokeModel(actx, cl, in)
			if err == nil && native.IsImageFamily(family) {
				// Bedrock checked the body; the images are counted in
				// its answer, priced by what the request asked for.
				c.onImages(img, native.ImagesIn(resp.Body))
			}
			return err
		}
		if native.IsImageFamily(family) {
			if imgErr != nil {
				return noFailover{imgErr}
			}
			body, err := native.GenerateImages(family, in.Body, img)
			if err != nil {
				return noFailover{err}
			}
			resp = converse.NativeResponse{Body: body, ContentType: "application/json"}
			c.onImages(img, img.Count)
			return nil
		}
		if isEmbedding(family) {
			body, u, err := native.Embed(family, in.Body, s.tokens)
			resp = converse.NativeResponse{Body: body, ContentType: "application/json", Usage: u}
			return err
		}
		codec, req := nb.codec, nb.req
		if codec == nil {
			return errkind.New(errkind.Invalid, "InvokeModel bodies of the %s family are not supported.", family)
		}
		if nb.err != nil {
			return noFailover{nb.err}
		}
		cr, err := r.Provider.Converse(actx, cl, withLatency(req, in.Latency))
		if err != nil {
			return err
		}
		if t := cr.ServiceTier.Tier(); t != "" {
			c.onServed(t)
		}
		c.onLatency(converse.LatencyOf(cr.PerformanceConfig))
		body, err := codec.Response(cr, cl.ModelID)
		if err != nil {
			return noFailover{err}
		}
		resp = converse.NativeResponse{Body: body, ContentType: "application/json", Usage: cr.Usage}
		return nil
	})
	err = unwrapNoFailover(err)
	if err == nil && resp.ServiceTier != "" {
		c.onServed(resp.ServiceTier)
	}
	if err == nil {
		c.onLatency(resp.Latency)
	}
	if ferr := c.finish(ctx, resp.Usage, err); ferr != nil && err == nil {
		return converse.NativeResponse{}, ferr
	}
	if err != nil {
		return converse.NativeResponse{}, err
	}
	resp.LatencyMs = s.now().Sub(c.start).Milliseconds()
	resp.ServiceTier = c.servedTier()
	resp.Latency = c.latency
	return resp, nil
}

// onImages notes the n images an image call made, at the quality and
// size r asked for, for finish to price.
func (c *call) onImages(r native.ImageRequest, n int64) { c.units = imageUnits(r, n) }

// imageUnits are n images of the quality and size r asks for (none when
// n is not positive).
func imageUnits(r native.ImageRequest, n int64) pricing.UnitUsage {
	if n <= 0 {
		return pricing.UnitUsage{}
	}
	return pricing.UnitUsage{Unit: catalog.UnitImage, Quality: r.Quality, Pixels: r.Width * r.Height, Size: r.Size(), Count: n}
}

// errImageConverse is Bedrock's answer to Converse on an image model.
func errImageConverse() error {
	return errkind.New(errkind.Invalid, "This action doesn't support the model that you provided. Try again with a supported text or chat model.")
}

// withLatency returns req asking for the latency mode of an InvokeModel
// call's X-Amzn-Bedrock-PerformanceConfig-Latency header, translated into
// Converse's performanceConfig; req itself when the header is absent or
// the body already asks.
func withLatency(req *converse.Request, mode string) *converse.Request {
	if mode == "" || req == nil || len(req.PerformanceConfig) > 0 {
		return req
	}
	r := *req
	r.PerformanceConfig, _ = json.Marshal(map[string]string{"latency": mode})
	return &r
}

// InvokeModelStream runs InvokeModelWithResponseStream. As with
// ConverseStream, the last chunk (which carries the invocation metrics) is
// held back until the record is durable.
func (s *Service) InvokeModelStream(ctx context.Context, caller Caller, modelID string, in converse.NativeRequest, emit func(chunk []byte) error) error {
	c, err := s.begin(caller, OpInvokeStream, modelID)
	if err != nil {
		return err
	}
	if !c.target.Model.Streaming {
		return errkind.New(errkind.Invalid, "The model %s does not support response streaming.", c.target.Model.ID)
	}
	nb := s.parseNative(c.target.Model.Family, in.Body)
	if err := c.admit(ctx, in.Body, maxTokensOf(nb.req)); err != nil {
		return c.reject(ctx, err)
	}
	family := c.target.Model.Family
	var (
		usage   converse.Usage
		emitted bool
		emitErr error
		held    []byte
		fe      *firstEvent // the current attempt's
	)
	defer c.settlePanic(ctx, &usage)
	send := func(chunk []byte) error {
		if err := fe.event(); err != nil {
			return err
		}
		if held != nil {
			if c.firstTok.IsZero() {
				c.firstTok = s.now()
			}
			c.announce()
			emitted = true
			if err := emit(held); err != nil {
				emitErr = err
				return err
			}
		}
		held = chunk
		return nil
	}
	err = c.attempt(ctx, func(ctx context.Context, cl converse.Call, r Route) error {
		ctx, afe, stop := c.streamAttempt(ctx)
		defer stop()
		fe = afe
		// A chunk held back from an attempt that failed over was never
		// sent; this attempt starts afresh.
		held = nil
		if ni, ok := r.Provider.(NativeInvoker); ok {
			var err error
			usage, err = ni.InvokeModelStream(ctx, cl, in, send)
			err = fe.err(err)
			if err != nil && emitted {
				return noFailover{err}
			}
			return err
		}
		codec, req := nb.codec, nb.req
		if codec == nil {
			return errkind.New(errkind.Invalid, "InvokeModel bodies of the %s family are not supported.", family)
		}
		if nb.err != nil {
			return noFailover{nb.err}
		}
		enc := codec.Stream(cl.ModelID)
		usage, err = r.Provider.ConverseStream(ctx, cl, withLatency(req, in.Latency), func(ev converse.StreamEvent) error {
			if ev.Metadata != nil {
				ev.Metadata.Metrics.LatencyMs = s.now().Sub(c.start).Milliseconds()
				if t := ev.Metadata.ServiceTier.Tier(); t != "" {
					c.onServed(t)
				}
				c.onLatency(converse.LatencyOf(ev.Metadata.PerformanceConfig))
			}
			chunks, err := enc.Encode(ev)
			if err != nil {
				return noFailover{err}
			}
			for _, ch := range chunks {
				if err := send(ch); err != nil {
					return err
				}
			}
			return nil
		})
		err = fe.err(err)
		if err != nil && emitted {
			return noFailover{err}
		}
		return err
	})
	err = unwrapNoFailover(err)
	if emitErr != nil && !errors.Is(err, context.Canceled) {
		err = errors.Join(context.Canceled, emitErr)
	}
	if ferr := c.finish(ctx, usage, err); ferr != nil && err == nil {
		return ferr
	}
	if err != nil {
		return err
	}
	if held != nil {
		c.announce()
		return emit(held)
	}
	return nil
}

// nativeBody is a model-native body parsed into Converse terms.
type nativeBody struct {
	codec native.Codec      // nil when the family has no codec
	req   *converse.Request // nil when the body did not parse
	err   error             // why it did not parse
}

// parseNative parses a native body of a family once.
func (s *Service) parseNative(family string, body []byte) nativeBody {
	if isEmbedding(family) || native.IsImageFamily(family) {
		return nativeBody{}
	}
	codec, ok := native.For(family)
	if !ok {
		return nativeBody{}
	}
	req, err := codec.Request(body)
	return nativeBody{codec: codec, req: req, err: err}
}
