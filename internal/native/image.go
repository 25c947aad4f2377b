package native

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	img "image"
	"image/color"
	"image/png"
	"strconv"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// The image-generation families, as the catalogue spells them: Amazon's
// image models (Nova Canvas, Titan Image Generator) and Stability AI's.
const (
	FamilyNovaCanvas     = "nova-canvas"
	FamilyStabilityImage = "stability-image"
)

// IsImageFamily reports whether family is an image-generation family,
// whose calls are billed per image.
func IsImageFamily(family string) bool {
	return family == FamilyNovaCanvas || family == FamilyStabilityImage
}

// ImageRequest is what an image-generation request asks for, as far as
// its price depends on it: Count images of Quality ("standard" or
// "premium" for Amazon's models; "" for Stability's, priced per image
// whatever their size) and Width × Height pixels (0 when the request
// does not say or the price does not depend on it).
type ImageRequest struct {
	Count         int64
	Quality       string
	Width, Height int64
}

// Size returns "WIDTHxHEIGHT", or "" without a size.
func (r ImageRequest) Size() string {
	if r.Width == 0 || r.Height == 0 {
		return ""
	}
	return strconv.FormatInt(r.Width, 10) + "x" + strconv.FormatInt(r.Height, 10)
}

// Nova Canvas limits (Amazon Nova user guide, "Image generation access
// and usage": imageGenerationConfig): 1 to 5 images; each side 320 to
// 4096 pixels and a multiple of 16; at most 4,194,304 pixels (2048 ×
// 2048); quality standard (the default) or premium; 1024 × 1024 when no
// size is given.
const (
	maxImages      = 5
	minImageSide   = 320
	maxImageSide   = 4096
	maxImagePixels = 2048 * 2048
	defaultSide    = 1024
)

// novaTaskTypes are the task types Amazon's image models accept; the
// simulator generates images for the text-to-image ones.
var novaTaskTypes = map[string]bool{"TEXT_IMAGE": true, "COLOR_GUIDED_GENERATION": true, "IMAGE_VARIATION": true,
	"INPAINTING": true, "OUTPAINTING": true, "BACKGROUND_REMOVAL": true, "VIRTUAL_TRY_ON": true}

// ParseImageRequest parses and checks an InvokeModel body of an image
// family. Amazon's models (FamilyNovaCanvas) take
// {"taskType", "textToImageParams": {"text", ...}, "imageGenerationConfig":
// {"numberOfImages", "quality", "width", "height", ...}}; Stability AI's
// take {"prompt", ...} and make one image. A body that does not match
// yields errkind.Invalid with Bedrock's "Malformed input request"
// message.
func ParseImageRequest(family string, body []byte) (ImageRequest, error) {
	o, err := parseBody(body)
	if err != nil {
		return ImageRequest{}, err
	}
	switch family {
	case FamilyNovaCanvas:
		return parseNovaImage(o)
	case FamilyStabilityImage:
		prompt, err := o.reqStr("prompt")
		if err != nil {
			return ImageRequest{}, err
		}
		if prompt == "" {
			return ImageRequest{}, malformed("#/prompt: expected minLength: 1, actual: 0")
		}
		if n := len([]rune(prompt)); n > 10_000 {
			return ImageRequest{}, malformed("#/prompt: expected maxLength: 10000, actual: %d", n)
		}
		return ImageRequest{Count: 1}, nil
	}
	return ImageRequest{}, errkind.New(errkind.Invalid, "The model does not support image generation requests.")
}

func parseNovaImage(o *obj) (ImageRequest, error) {
	task, err := o.reqStr("taskType")
	if err != nil {
		return ImageRequest{}, err
	}
	if !novaTaskTypes[task] {
		return ImageRequest{}, malformed("#/taskType: %s is not a valid enum value", clip(task))
	}
	if task == "TEXT_IMAGE" {
		raw, ok := o.get("textToImageParams")
		if !ok {
			return ImageRequest{}, o.missing("textToImageParams")
		}
		p, err := asObj(o.at("textToImageParams"), raw)
		if err != nil {
			return ImageRequest{}, err
		}
		text, err := p.reqStr("text")
		if err != nil {
			return ImageRequest{}, err
		}
		if n := len([]rune(text)); n < 1 || n > 1024 {
			return ImageRequest{}, malformed("%s: expected length between 1 and 1024, actual: %d", p.at("text"), n)
		}
	}
	r := ImageRequest{Count: 1, Quality: "standard", Width: defaultSide, Height: defaultSide}
	if task == "BACKGROUND_REMOVAL" {
		// One image the size of the input, at standard quality; the
		// input's size is not read here.
		return ImageRequest{Count: 1, Quality: "standard"}, nil
	}
	raw, ok := o.get("imageGenerationConfig")
	if !ok {
		return r, nil
	}
	c, err := asObj(o.at("imageGenerationConfig"), raw)
	if err != nil {
		return ImageRequest{}, err
	}
	if n, ok, err := c.int("numberOfImages"); err != nil {
		return ImageRequest{}, err
	} else if ok {
		if n < 1 || n > maxImages {
			return ImageRequest{}, malformed("%s: %d is not between 1 and %d", c.at("numberOfImages"), n, maxImages)
		}
		r.Count = n
	}
	if q, ok, err := c.str("quality"); err != nil {
		return ImageRequest{}, err
	} else if ok {
		if q != "standard" && q != "premium" {
			return ImageRequest{}, malformed("%s: %s is not a valid enum value", c.at("quality"), clip(q))
		}
		r.Quality = q
	}
	for _, side := range []struct {
		key string
		dst *int64
	}{{"width", &r.Width}, {"height", &r.Height}} {
		n, ok, err := c.int(side.key)
		if err != nil {
			return ImageRequest{}, err
		}
		if !ok {
			continue
		}
		if n < minImageSide || n > maxImageSide || n%16 != 0 {
			return ImageRequest{}, malformed("%s: %d must be between %d and %d and a multiple of 16", c.at(side.key), n, minImageSide, maxImageSide)
		}
		*side.dst = n
	}
	if r.Width*r.Height > maxImagePixels {
		return ImageRequest{}, malformed("%s: %dx%d is more than %d pixels", o.at("imageGenerationConfig"), r.Width, r.Height, maxImagePixels)
	}
	return r, nil
}

// placeholderPNG is the image the simulator answers with: a valid 1 × 1
// PNG, base64-encoded.
var placeholderPNG = sync.OnceValue(func() string {
	pic := img.NewNRGBA(img.Rect(0, 0, 1, 1))
	pic.Set(0, 0, color.NRGBA{R: 0x3b, G: 0x82, B: 0xf6, A: 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, pic); err != nil {
		panic("native: encoding the placeholder PNG: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
})

// GenerateImages answers an image request r (parsed from body by
// ParseImageRequest) the way the simulator does: r.Count placeholder
// PNGs in the family's response body, {"images": [...]} for Amazon's
// models and {"seeds", "finish_reasons", "images"} for Stability AI's
// (the seed the request gave, or one derived from the body).
func GenerateImages(family string, body []byte, r ImageRequest) ([]byte, error) {
	images := make([]string, r.Count)
	for i := range images {
		images[i] = placeholderPNG()
	}
	switch family {
	case FamilyNovaCanvas:
		return json.Marshal(map[string]any{"images": images})
	case FamilyStabilityImage:
		var req struct {
			Seed *uint32 `json:"seed"`
		}
		_ = json.Unmarshal(body, &req)
		seed := uint32(0)
		if req.Seed != nil && *req.Seed != 0 {
			seed = *req.Seed
		} else {
			h := fnv.New32a()
			h.Write(body)
			seed = h.Sum32()
		}
		return json.Marshal(map[string]any{"seeds": []uint32{seed}, "finish_reasons": []any{nil}, "images": images})
	}
	return nil, errkind.New(errkind.Invalid, "The model does not support image generation requests.")
}

// ImagesIn counts the images of an image family's response body, as a
// real Bedrock returns it: the entries of "images" (Stability AI's
// filtered images, whose finish reason is not null, are not counted).
// A body that does not parse counts none.
func ImagesIn(body []byte) int64 {
	var resp struct {
		Images        []json.RawMessage `json:"images"`
		FinishReasons []*string         `json:"finish_reasons"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return 0
	}
	n := int64(0)
	for i, img := range resp.Images {
		if isNull(img) {
			continue
		}
		if i < len(resp.FinishReasons) && resp.FinishReasons[i] != nil {
			continue
		}
		n++
	}
	return n
}
