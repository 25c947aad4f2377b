package sim

import (
	"unicode"
	"unicode/utf8"
)

// Tokens returns the number of tokens in text under the simulator's token
// rule: a token is a maximal run of Unicode letters, marks and numbers, or
// one single character that is neither such a character nor a space
// (unicode.IsSpace). "Hello, world!" is 4 tokens.
func Tokens(text string) int64 {
	var n int64
	for i := 0; ; n++ {
		start, end := nextToken(text, i)
		if start == end {
			return n
		}
		i = end
	}
}

// tokensOf counts the tokens of JSON or other byte text.
func tokensOf(b []byte) int64 {
	return Tokens(string(b))
}

// Character classes of the token rule.
const (
	classOther uint8 = iota
	classSpace
	classWord
)

// asciiClass classifies the ASCII characters.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		t[c] = class(rune(c))
	}
	return t
}()

// class returns the class of r under the token rule.
func class(r rune) uint8 {
	switch {
	case unicode.IsSpace(r):
		return classSpace
	case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r):
		return classWord
	}
	return classOther
}

// classAt returns the class and width of the character at byte i of s.
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return class(r), w
}

// nextToken returns the byte bounds of the first token of s that starts at
// or after byte i; start == end == len(s) when there is none.
func nextToken(s string, i int) (start, end int) {
	for i < len(s) {
		c, w := classAt(s, i)
		if c == classSpace {
			i += w
			continue
		}
		start = i
		i += w
		if c != classWord {
			return start, i
		}
		for i < len(s) {
			c, w = classAt(s, i)
			if c != classWord {
				break
			}
			i += w
		}
		return start, i
	}
	return len(s), len(s)
}

// cutTokens returns the prefix of s that ends with its n-th token, and
// whether anything but spaces was cut off.
func cutTokens(s string, n int64) (string, bool) {
	end := 0
	for range n {
		st, e := nextToken(s, end)
		if st == e {
			return s, false
		}
		end = e
	}
	if next, _ := nextToken(s, end); next == len(s) {
		return s, false
	}
	return s[:end], true
}
