package metagen

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// marshalKylin encodes v the way Kylin's JsonUtil.writeValueAsIndentString
// (Jackson's default pretty printer) does: two-space indentation for
// objects, `"key" : value`, arrays inline as `[ a, b ]`, `{ }` and `[ ]`
// for empty containers, no HTML escaping and no trailing newline.
//
// Struct fields keep their declaration order and map keys are sorted, so the
// output is a pure function of v.
func marshalKylin(v any) ([]byte, error) {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	src := bytes.TrimRight(compact.Bytes(), "\n")
	out := make([]byte, 0, len(src)+len(src)/3)
	return jacksonIndent(out, src)
}

// jacksonIndent appends to dst the compact JSON src re-indented in
// Jackson's default pretty-printed style. Only objects add an indentation
// level; arrays stay on the line of their parent, as Jackson prints them.
func jacksonIndent(dst, src []byte) ([]byte, error) {
	type frame struct{ object bool }
	var stack []frame
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			j := i + 1
			for ; j < len(src); j++ {
				if src[j] == '\\' {
					j++
					continue
				}
				if src[j] == '"' {
					break
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("jackson indent: unterminated string at offset %d", i)
			}
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			closing := byte('}')
			if c == '[' {
				closing = ']'
			}
			if i+1 < len(src) && src[i+1] == closing {
				dst = append(dst, c, ' ', closing)
				i++
				continue
			}
			stack = append(stack, frame{object: c == '{'})
			if c == '{' {
				dst = append(dst, '{')
				depth++
				newline()
			} else {
				dst = append(dst, '[', ' ')
			}
		case '}', ']':
			if len(stack) == 0 {
				return nil, fmt.Errorf("jackson indent: unbalanced %q at offset %d", c, i)
			}
			stack = stack[:len(stack)-1]
			if c == '}' {
				depth--
				newline()
				dst = append(dst, '}')
			} else {
				dst = append(dst, ' ', ']')
			}
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].object {
				dst = append(dst, ',')
				newline()
			} else {
				dst = append(dst, ',', ' ')
			}
		case ':':
			dst = append(dst, ' ', ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("jackson indent: %d unclosed containers", len(stack))
	}
	return dst, nil
}
