package sinchauth

// scanFlatObject reads data as a JSON object whose members are all plain:
// names and string values of printable ASCII without escapes, values that
// are such strings or numbers. It fills p with the raw values (slices of
// data) and reports true; for anything else, including every invalid JSON,
// it reports false without judging, and the caller decodes data with
// encoding/json. So it can only ever accept what encoding/json accepts,
// read the same way: FuzzScanFlatObject holds it to that.
func scanFlatObject(data []byte, p *payload) bool {
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipJSONSpace(data, i+1) == len(data)
	}
	var found payload
	for {
		nameEnd, ok := plainStringEnd(data, i)
		if !ok {
			return false
		}
		name := data[i+1 : nameEnd-1]
		i = skipJSONSpace(data, nameEnd)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipJSONSpace(data, i+1)
		valueEnd, ok := plainValueEnd(data, i)
		if !ok {
			return false
		}
		if dst := found.claim(string(name)); dst != nil { // no copy: the string does not escape
			*dst = data[i:valueEnd:valueEnd]
		}
		i = skipJSONSpace(data, valueEnd)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipJSONSpace(data, i+1)
		case '}':
			if skipJSONSpace(data, i+1) != len(data) {
				return false
			}
			*p = found
			return true
		default:
			return false
		}
	}
}

// skipJSONSpace returns the index of the first byte at or after i that is
// not JSON whitespace.
func skipJSONSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainValueEnd returns the end of the plain string or number at i.
func plainValueEnd(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '"' {
		return plainStringEnd(data, i)
	}
	return numberEnd(data, i)
}

// plainStringEnd returns the index just past the closing quote of the
// string starting at i, when it holds printable ASCII only and no escape.
func plainStringEnd(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return 0, false
		}
	}
	return 0, false
}

// numberEnd returns the end of the JSON number at i (RFC 8259 §6:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
func numberEnd(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digitsEnd(data, i)
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		j := digitsEnd(data, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digitsEnd(data, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digitsEnd(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}
