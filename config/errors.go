package config

import (
	"github.com/keyward/keyward/internal/excerpt"

	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/strictyaml"
)

// fileError is every error about a file's content: it names the file, line
// and key, as "config: FILE: line N: KEY: what is wrong".
type fileError struct {
	file string
	line int
	key  string
	msg  string
	err  error
}

func (e *fileError) Error() string {
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

func (e *fileError) Unwrap() error { return e.err }

// errorf reports a problem with key, at its line if the file set it, else at
// the line of its nearest enclosing key that the file set.
func (f *File) errorf(key, format string, args ...any) error {
	return f.errorAt(f.lineOf(key), key, format, args...)
}

func (f *File) errorAt(line int, key, format string, args ...any) error {
	return &fileError{file: f.file, line: line, key: key, msg: fmt.Sprintf(format, args...)}
}

// wrap reports err, from reading or building key's file or key set.
func (f *File) wrap(key string, err error) error {
	msg, err := f.redactError(err.Error(), err)
	return &fileError{file: f.file, line: f.lineOf(key), key: key, msg: msg, err: err}
}

// redactError returns msg, the text of err, an error of another package
// about the file's values, with the file's URLs redacted (see redactURLs),
// and err; or nil for err if that changed anything, since err's own text
// shows what was redacted.
func (f *File) redactError(msg string, err error) (string, error) {
	if safe := f.redactURLs(msg); safe != msg {
		return safe, nil
	}
	return msg, err
}

// lineOf returns the line of key or of its nearest enclosing key in the
// file, or 0.
func (f *File) lineOf(key string) int {
	for key != "" {
		if line, ok := f.lines[key]; ok {
			return line
		}
		key = key[:max(strings.LastIndexAny(key, ".["), 0)]
	}
	return 0
}

// has reports whether key was set in the file.
func (f *File) has(key string) bool {
	_, ok := f.lines[key]
	return ok
}

// problem words a problem strictyaml found in the mapping at path ("" for
// the top level); any other error is returned as it is.
func (f *File) problem(err error, path string) error {
	p, ok := err.(*strictyaml.Problem)
	if !ok {
		return err
	}
	switch p.Kind {
	case strictyaml.TooLarge:
		return f.errorAt(0, "", "the file is larger than %d bytes", p.Limit)
	case strictyaml.Empty:
		return f.errorAt(0, "", "the file is empty; it needs at least a jwt section with issuers, or mode: credentials with a credentials section")
	case strictyaml.Syntax:
		return f.syntaxError(p)
	case strictyaml.ExtraDocument:
		if p.Msg != "" {
			return f.syntaxError(p)
		}
		return f.errorAt(p.Line, "", "the file holds more than one YAML document (remove the second \"---\")")
	case strictyaml.KeyNotPlain:
		return f.errorAt(p.Line, path, "keys must be plain names, not a %s", p.Got)
	case strictyaml.MergeKey:
		return f.errorAt(p.Line, path, "merge keys (<<) are not supported; write the keys out")
	case strictyaml.UnknownKey:
		where := "at the top level"
		if path != "" {
			where = "in " + path
		}
		return f.errorAt(p.Line, "", "unknown key %s %s; %s", excerpt.Quote(p.Key), where, strictyaml.Suggest(p.Key, p.Known))
	case strictyaml.DuplicateKey:
		return f.errorAt(p.Line, childPath(path, p.Key), "is set twice (first at line %d)", p.First)
	case strictyaml.TooManyNodes:
		return f.errorAt(p.Line, "", "the file has too many values or aliases (more than %d)", p.Limit)
	}
	return f.errorAt(p.Line, path, "%s", p.Error())
}

// syntaxError rewords an error of the YAML parser: "yaml: line 3: did not
// find expected key" becomes line 3, "invalid YAML: did not find expected
// key".
func (f *File) syntaxError(p *strictyaml.Problem) error {
	msg := "invalid YAML: " + p.Msg
	if p.Line > 0 {
		// The parser names the line where a block began, not where its
		// indentation went wrong.
		msg += " (check the indentation from this line on)"
	}
	return &fileError{file: f.file, line: p.Line, msg: msg, err: p.Err}
}

// childPath is the dotted path of key name in the mapping at path. A name
// is shortened as excerpt.Quote shortens values, so that errors never
// carry much of the file.
func childPath(path, name string) string {
	if r := []rune(name); len(r) > 40 {
		name = string(r[:40]) + "…"
	}
	if path == "" {
		return name
	}
	return path + "." + name
}
