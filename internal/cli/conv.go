package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/smithy-go"
)

// The conventions every command follows (gh and kubectl are the model):
//
//   - `tollgate help CMD` and `CMD --help` print the command's help on
//     standard output and exit 0;
//   - flags are accepted before and after positional arguments;
//   - an error is one line, then one hint line (with "did you mean" for a
//     mistyped command, subcommand or flag), never a page of usage;
//   - exit status 1 for a failed operation, 2 for bad usage.

// UsageError is bad usage: an unknown command or flag, a missing or
// malformed argument. The command line exits 2 and prints Msg, then Hint.
type UsageError struct {
	Cmd  string // the command, e.g. "budgets create"
	Msg  string
	Hint string // one line; "" for the default pointer to --help
}

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError of cmd ("budgets create", without
// "tollgate").
func Usagef(cmd, format string, args ...any) error {
	return &UsageError{Cmd: cmd, Msg: fmt.Sprintf(format, args...)}
}

// errHelpShown says a command printed its help because it was asked to:
// the command line exits 0.
var errHelpShown = errors.New("help shown")

// Exit prints err on stderr the way every command does and returns the
// process's exit status: 0 for no error or help asked for, 2 for bad
// usage (a UsageError, or flag.ErrHelp after a usage text was printed for
// a command line that named no command), 1 for a failed operation.
func Exit(err error, stderr io.Writer) int {
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	case errors.As(err, &ue):
		hint := ue.Hint
		if hint == "" {
			hint = "Run 'tollgate " + strings.TrimSpace("help "+ue.Cmd) + "' for usage."
		}
		fmt.Fprintf(stderr, "tollgate: %s\n%s\n", ue.Msg, hint)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "tollgate: interrupted")
		return 1
	}
	msg := err.Error()
	// An AWS SDK error reads "operation error Budgets: CreateBudget, https
	// response error StatusCode: 400, RequestID: ..., NotFoundException:
	// ...": keep the operation, the exception and its message.
	var oe *smithy.OperationError
	var ae smithy.APIError
	if errors.As(err, &oe) && errors.As(err, &ae) {
		msg = strings.Replace(msg, oe.Error(), fmt.Sprintf("%s: %s: %s", oe.Operation(), ae.ErrorCode(), ae.ErrorMessage()), 1)
	}
	fmt.Fprintf(stderr, "tollgate: %s\n", msg)
	var he *hintError
	if errors.As(err, &he) {
		fmt.Fprintln(stderr, he.hint)
	}
	return 1
}

// hintError is a failed operation with a hint line (exit 1).
type hintError struct {
	error
	hint string
}

func (e *hintError) Unwrap() error { return e.error }

// NewFlagSet returns a command's flag set whose help — the usage text,
// then every flag with its type and default — goes to stdout when asked
// for with -h or --help. Parse it with ParseFlags, which keeps the flag
// package from printing anything else.
func NewFlagSet(name, usage string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stdout, usage)
		printFlags(stdout, fs)
	}
	return fs
}

// HelpArg reports whether args ask for help (-h, -help, --help) before
// any "--".
func HelpArg(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// ParseFlags parses args into fs, accepting flags before and after
// positional arguments (the flag package stops at the first positional);
// afterwards fs.Args() holds the positional arguments in order, and
// everything after a "--" is positional. -h or --help prints the help on
// stdout and returns errHelpShown; a bad flag is a UsageError naming the
// flag set's command, with a "did you mean" for a mistyped flag.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	cmd := strings.TrimPrefix(fs.Name(), "tollgate ")
	if HelpArg(args) {
		fs.Usage()
		return errHelpShown
	}
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return flagError(fs, cmd, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	// Leave the positional arguments in fs.Args(): after "--" the flag
	// package takes everything as an argument and sets nothing.
	return fs.Parse(append([]string{"--"}, pos...))
}

// flagError turns the flag package's error into a UsageError.
func flagError(fs *flag.FlagSet, cmd string, err error) error {
	ue := &UsageError{Cmd: cmd, Msg: cmd + ": " + err.Error()}
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		ue.Msg = fmt.Sprintf("%s: unknown flag %q", cmd, "-"+name)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if s := closest(name, names); s != "" {
			dashes := "--"
			if len(s) == 1 {
				dashes = "-"
			}
			ue.Hint = fmt.Sprintf("Did you mean %s%s? Run 'tollgate help %s' for usage.", dashes, s, cmd)
		}
	}
	return ue
}

// unknownCommand is the UsageError for a mistyped command or subcommand
// of parent ("" for the top level): did you mean the closest valid one,
// else the list of valid ones.
func unknownCommand(parent, got string, valid []string) error {
	what := "command"
	if parent != "" {
		what = parent + " command"
	}
	ue := &UsageError{Cmd: parent, Msg: fmt.Sprintf("unknown %s %q", what, got)}
	if s := closest(got, valid); s != "" {
		ue.Hint = fmt.Sprintf("Did you mean 'tollgate %s'?", strings.TrimSpace(parent+" "+s))
	} else {
		ue.Hint = fmt.Sprintf("Valid: %s. Run '%s' for usage.", strings.Join(valid, ", "), strings.TrimSpace("tollgate help "+parent))
	}
	return ue
}

// closest returns the candidate nearest to s by edit distance when it is
// near enough to be a typo (at most 2 edits, and fewer than half of s),
// or the only candidate s is a prefix of; "" otherwise.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD && d*2 <= max(len(s), 2) {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	var prefixed []string
	for _, c := range candidates {
		if len(s) >= 2 && strings.HasPrefix(c, s) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// aliasMark marks a flag registered as the short form of another: its
// usage is aliasMark followed by the long name.
const aliasMark = "\x00alias:"

// short registers name as the one-letter form of the flag long.
func short(fs *flag.FlagSet, name, long string) {
	fs.Var(fs.Lookup(long).Value, name, aliasMark+long)
}

// typeNamer is a flag.Value that names its type in help.
type typeNamer interface{ TypeName() string }

// printFlags writes fs's flags as kubectl does: "  -o, --output string",
// then the description with its default, sorted by long name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	shorts := map[string]string{}
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, aliasMark); ok {
			shorts[long] = f.Name
			return
		}
		flags = append(flags, f)
	})
	if len(flags) == 0 {
		return
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	for _, f := range flags {
		typ, usage := flag.UnquoteUsage(f)
		if tn, ok := f.Value.(typeNamer); ok {
			typ = tn.TypeName()
		}
		if typ == "value" {
			typ = "string"
		}
		dashes := "--"
		if len(f.Name) == 1 {
			dashes = "-"
		}
		head := "  " + dashes + f.Name
		if s, ok := shorts[f.Name]; ok {
			head = "  -" + s + ", " + dashes + f.Name
		}
		if typ != "" {
			head += " " + typ
		}
		if def := f.DefValue; def != "" && def != "0" && def != "false" && def != "[]" && def != "map[]" && def != "0s" {
			if typ == "string" {
				def = fmt.Sprintf("%q", def)
			}
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "%s\n        %s\n", head, strings.ReplaceAll(usage, "\n", "\n        "))
	}
}
