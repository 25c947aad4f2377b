package resolver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// StaticMap maps the values of a fixed list of key tags — tenant and app,
// say — to profile ARNs: the "static map" way of finding a profile, kept
// in a YAML file such as
//
//	keyTags: [tenant, app]
//	profiles:
//	  acme/claims_chatbot: arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abcd1234efgh
//	  globex/chat_app: arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/0123456789ab
//
// A profile key is the key tags' values in keyTags order joined by "/";
// a value containing "/" or "%" has it percent-encoded (StaticKey).
// A StaticMap answers a Query whose tags are exactly its key tags. It is
// immutable and safe for concurrent use.
type StaticMap struct {
	keyTags  []string
	profiles map[string]string // profile key -> ARN
	index    map[string]string // Query.key -> ARN
}

// staticFile is the YAML form of a StaticMap.
type staticFile struct {
	KeyTags  []string          `yaml:"keyTags"`
	Profiles map[string]string `yaml:"profiles"`
}

// NewStaticMap returns the map from profile keys (see StaticKey) to ARNs
// for the given key tags.
func NewStaticMap(keyTags []string, profiles map[string]string) (*StaticMap, error) {
	if len(keyTags) == 0 {
		return nil, errors.New("resolver: static map: keyTags is empty")
	}
	tags := map[string]string{}
	for _, k := range keyTags {
		if _, dup := tags[k]; dup {
			return nil, fmt.Errorf("resolver: static map: key tag %q is listed twice", k)
		}
		tags[k] = "x"
	}
	if _, err := NewQuery(tags); err != nil {
		return nil, fmt.Errorf("resolver: static map: keyTags: %w", err)
	}
	m := &StaticMap{
		keyTags:  slices.Clone(keyTags),
		profiles: make(map[string]string, len(profiles)),
		index:    make(map[string]string, len(profiles)),
	}
	seen := map[string]string{} // Query.key -> profile key
	for _, key := range slices.Sorted(maps.Keys(profiles)) {
		arn := profiles[key]
		if !strings.HasPrefix(arn, "arn:") {
			return nil, fmt.Errorf("resolver: static map: profile %q: %q is not an ARN", key, arn)
		}
		values, err := splitStaticKey(key)
		if err != nil {
			return nil, fmt.Errorf("resolver: static map: profile %q: %w", key, err)
		}
		if len(values) != len(keyTags) {
			return nil, fmt.Errorf("resolver: static map: profile %q has %d values; keyTags %q needs %d", key, len(values), keyTags, len(keyTags))
		}
		for i, k := range keyTags {
			tags[k] = values[i]
		}
		q, err := NewQuery(tags)
		if err != nil {
			return nil, fmt.Errorf("resolver: static map: profile %q: %w", key, err)
		}
		if other, dup := seen[q.key]; dup {
			return nil, fmt.Errorf("resolver: static map: profiles %q and %q name the same tags", other, key)
		}
		seen[q.key] = key
		m.profiles[key] = arn
		m.index[q.key] = arn
	}
	return m, nil
}

// StaticKey returns the profile key for the key tags' values, in keyTags
// order: the values joined by "/", each with "%" and "/" percent-encoded.
func StaticKey(values ...string) string {
	esc := make([]string, len(values))
	for i, v := range values {
		v = strings.ReplaceAll(v, "%", "%25")
		esc[i] = strings.ReplaceAll(v, "/", "%2F")
	}
	return strings.Join(esc, "/")
}

func splitStaticKey(key string) ([]string, error) {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		v, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("bad percent-encoding: %w", err)
		}
		parts[i] = v
	}
	return parts, nil
}

// ParseStaticMap parses the YAML form of a StaticMap. Unknown fields are
// errors.
func ParseStaticMap(data []byte) (*StaticMap, error) {
	var f staticFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("resolver: static map: empty document")
		}
		return nil, fmt.Errorf("resolver: static map: %w", err)
	}
	return NewStaticMap(f.KeyTags, f.Profiles)
}

// LoadStaticMap reads and parses a YAML static map file.
func LoadStaticMap(path string) (*StaticMap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("resolver: static map: %w", err)
	}
	m, err := ParseStaticMap(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return m, nil
}

// KeyTags returns the key tags, in order.
func (m *StaticMap) KeyTags() []string { return slices.Clone(m.keyTags) }

// Profiles returns a copy of the map from profile key to ARN.
func (m *StaticMap) Profiles() map[string]string { return maps.Clone(m.profiles) }

// Len returns the number of profiles.
func (m *StaticMap) Len() int { return len(m.profiles) }

// Lookup returns the ARN for q, which must carry exactly the key tags. It
// does not allocate.
func (m *StaticMap) Lookup(q Query) (string, bool) {
	arn, ok := m.index[q.key]
	return arn, ok
}

// Encode returns the YAML document, with a header comment and the
// profiles sorted by key.
func (m *StaticMap) Encode() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Tollgate static profile map: the values of keyTags, in order and joined\n")
	b.WriteString("# by \"/\", name an application inference profile ARN.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(staticFile{KeyTags: m.keyTags, Profiles: m.profiles}); err != nil {
		return nil, fmt.Errorf("resolver: static map: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("resolver: static map: %w", err)
	}
	return b.Bytes(), nil
}

// WriteFile writes the YAML document to path atomically: a temporary file
// in the same directory, synced, then renamed over path.
func (m *StaticMap) WriteFile(path string) error {
	data, err := m.Encode()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("resolver: static map: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory that is synced and renamed over path, so that a reader sees
// the old content or the new, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(name, perm)
	}
	if werr == nil {
		werr = os.Rename(name, path)
	}
	if werr != nil {
		os.Remove(name)
		return werr
	}
	return nil
}

// Duplicate is a profile key that several profiles carry.
type Duplicate struct {
	Key  string
	ARNs []string // sorted
}

// BuildStaticMap builds the static map of the resources (as ListProfiles
// returns them) that carry every key tag with a non-empty value. When
// several carry the same values, the map keeps the lowest ARN and the
// key is reported in dups (sorted by key).
func BuildStaticMap(keyTags []string, resources []Resource) (m *StaticMap, dups []Duplicate, err error) {
	byKey := map[string][]string{}
	for _, res := range resources {
		values := make([]string, len(keyTags))
		ok := true
		for i, k := range keyTags {
			values[i] = tagValue(res.Tags, k)
			ok = ok && values[i] != ""
		}
		if ok {
			key := StaticKey(values...)
			byKey[key] = append(byKey[key], res.ARN)
		}
	}
	profiles := make(map[string]string, len(byKey))
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		arns := slices.Sorted(slices.Values(byKey[key]))
		profiles[key] = arns[0]
		if len(arns) > 1 {
			dups = append(dups, Duplicate{Key: key, ARNs: arns})
		}
	}
	m, err = NewStaticMap(keyTags, profiles)
	if err != nil {
		return nil, nil, err
	}
	return m, dups, nil
}

func tagValue(tags []Tag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}
