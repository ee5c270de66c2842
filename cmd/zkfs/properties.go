package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// property is one key and value of a Java properties file, with the line
// its logical line starts on.
type property struct {
	key, value string
	line       int
}

// readProperties reads r by the rules of Java's Properties.load, which
// ZooKeeper reads zoo.cfg with:
//
//   - a line that is blank, or whose first non-blank character is # or !,
//     is a comment;
//   - a line ending in an odd number of backslashes continues on the next
//     one, whose leading blanks are dropped;
//   - the key runs to the first unescaped '=', ':' or blank; blanks, then
//     one '=' or ':', then blanks separate it from the value, so "k=v",
//     "k: v" and "k v" are the same, and "k" alone has an empty value;
//   - \t, \n, \r, \f and \uXXXX are escapes, and a backslash before any
//     other character stands for that character.
//
// Keys and values are then trimmed, as ZooKeeper trims them.
func readProperties(r io.Reader) ([]property, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []property
	var logical strings.Builder
	start, n := 0, 0
	continuing := false
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if continuing {
			line = strings.TrimLeft(line, " \t\f")
		} else {
			trimmed := strings.TrimLeft(line, " \t\f")
			if trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!' {
				continue
			}
			line = trimmed
			start = n
			logical.Reset()
		}
		if trailingBackslashes(line)%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continuing = true
			continue
		}
		logical.WriteString(line)
		continuing = false
		p, err := splitProperty(logical.String())
		if err != nil {
			return nil, &zooConfigError{line: start, msg: err.Error()}
		}
		p.line = start
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if continuing {
		// Java takes what was read so far.
		p, err := splitProperty(logical.String())
		if err != nil {
			return nil, &zooConfigError{line: start, msg: err.Error()}
		}
		p.line = start
		out = append(out, p)
	}
	return out, nil
}

func trailingBackslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

// splitProperty splits a logical line into its unescaped key and value.
func splitProperty(s string) (property, error) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	i = min(i, len(s))
	key, rest := s[:i], s[i:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	k, err := unescapeProperty(key)
	if err != nil {
		return property{}, err
	}
	v, err := unescapeProperty(rest)
	if err != nil {
		return property{}, err
	}
	return property{key: strings.TrimSpace(k), value: strings.TrimSpace(v)}, nil
}

func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uXXXX escape in %q", s)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uXXXX escape in %q", s)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
