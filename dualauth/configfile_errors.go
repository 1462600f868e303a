package dualauth

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// configError is every error of this file: it names the file, line and key.
type configError struct {
	file string
	line int
	key  string
	msg  string
	err  error
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.file != "" {
		b.WriteString(e.file + ": ")
	}
	if e.line > 0 {
		b.WriteString("line " + strconv.Itoa(e.line) + ": ")
	}
	if e.key != "" {
		b.WriteString(e.key + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

func (e *configError) Unwrap() error { return e.err }

// errorf reports a problem with key, at its line if the file set it, else at
// the line of its nearest enclosing key that the file set.
func (f *ConfigFile) errorf(key, format string, args ...any) error {
	return f.errorAt(f.lineOf(key), key, format, args...)
}

// lineOf returns the line of key or of its nearest enclosing key in the
// file, or 0.
func (f *ConfigFile) lineOf(key string) int {
	for key != "" {
		if line, ok := f.lines[key]; ok {
			return line
		}
		key = key[:max(strings.LastIndexAny(key, ".["), 0)]
	}
	return 0
}

func (f *ConfigFile) errorAt(line int, key, format string, args ...any) error {
	return &configError{file: f.file, line: line, key: key, msg: fmt.Sprintf(format, args...)}
}

// wrap reports err, from building key's key set.
func (f *ConfigFile) wrap(key string, err error) error {
	return &configError{file: f.file, line: f.lineOf(key), key: key, msg: err.Error(), err: err}
}

// yamlError rewords an error of the YAML library: "yaml: line 3: did not
// find expected key" becomes line 3, "invalid YAML: did not find expected
// key". Of a list of errors only the first is kept.
func (f *ConfigFile) yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimSpace(strings.TrimPrefix(msg, "unmarshal errors:"))
	msg, _, _ = strings.Cut(msg, "\n")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, after
			}
		}
	}
	if line > 0 {
		// The parser names the line where a block began, not where its
		// indentation went wrong.
		msg += " (check the indentation from this line on)"
	}
	return &configError{file: f.file, line: line, msg: "invalid YAML: " + msg, err: err}
}

// quoteValue quotes a value from the file for an error message, shortened
// so that errors never carry much of the file.
func quoteValue(s string) string {
	const maxRunes = 40
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes]) + "…"
	}
	return strconv.Quote(s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.AliasNode:
		return "alias"
	default:
		return "document"
	}
}
