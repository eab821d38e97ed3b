package apicontract

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/kafkakit/kafkakit/config"
)

// Tokens is a set of bearer tokens, each with the Grant of what it may
// do. Only the tokens' SHA-256 digests are kept: a presented token is
// hashed and its digest looked up, so that the time a lookup takes tells
// nothing of the tokens held (it depends on the digest, which tells
// nothing of the token), and no token stays in memory to be dumped or
// logged. A Tokens is not changed once handed to a Guard.
type Tokens struct {
	byDigest map[[sha256.Size]byte]*Grant
	names    map[string]bool
}

// NewTokens returns an empty set: with it a Guard refuses every request.
func NewTokens() *Tokens {
	return &Tokens{byDigest: map[[sha256.Size]byte]*Grant{}, names: map[string]bool{}}
}

// Len is the number of tokens held.
func (t *Tokens) Len() int { return len(t.byDigest) }

// Add adds token with grant g. A token or a name already held is an
// error, which shows neither token.
func (t *Tokens) Add(token config.Secret, g *Grant) error {
	d := sha256.Sum256([]byte(token.Reveal()))
	if _, dup := t.byDigest[d]; dup {
		return errors.New("the token is already another name's")
	}
	if t.names[g.name] {
		// Not named: a line with its fields swapped has its token there.
		return errors.New("the name is already another token's")
	}
	t.byDigest[d] = g
	t.names[g.name] = true
	return nil
}

// lookup returns the grant of token, nil for none (or a nil set).
func (t *Tokens) lookup(token string) *Grant {
	if t == nil {
		return nil
	}
	return t.byDigest[sha256.Sum256([]byte(token))]
}

// Limits of a tokens file, which is input like any other: a file over
// MaxTokensFileBytes, or a line over MaxTokensLineBytes, is refused.
const (
	MaxTokensFileBytes = 1 << 20
	MaxTokensLineBytes = 4 << 10
	// MinTokenLength is the fewest characters a token of a tokens file
	// may have: 16 random base64 characters are 96 bits.
	MinTokenLength = 16
)

var (
	// tokenName is a token's name: what logs and whoami show.
	tokenName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)
	// bearerToken is RFC 6750's b64token: what a bearer header carries.
	bearerToken = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)
)

// LineError is a tokens file's error at one line. Its text names the
// line and what is wrong, never what the line says: it may hold a token.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// ReadTokens reads a tokens file: one token a line,
//
//	<name> <token> <scope>[,<scope>...]
//
// separated by spaces or tabs; blank lines and lines whose first
// character that is not a space is # are ignored. A name is 1 to 64 of
// A-Z a-z 0-9 . _ @ -, a token at least MinTokenLength characters of
// RFC 6750's b64token (A-Z a-z 0-9 - . _ ~ + / then any =), a scope as
// ParseScopes says. Names and tokens are unique. The first bad line is a
// *LineError.
func ReadTokens(r io.Reader) (*Tokens, error) {
	t := NewTokens()
	sc := bufio.NewScanner(io.LimitReader(r, MaxTokensFileBytes+1))
	sc.Buffer(make([]byte, 0, 512), MaxTokensLineBytes)
	n, read := 0, 0
	for sc.Scan() {
		n++
		read += len(sc.Bytes()) + 1
		if read > MaxTokensFileBytes {
			return nil, fmt.Errorf("the file is larger than %d bytes", MaxTokensFileBytes)
		}
		if err := t.addLine(sc.Text()); err != nil {
			return nil, &LineError{Line: n, Err: err}
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, &LineError{Line: n + 1, Err: fmt.Errorf("longer than %d bytes", MaxTokensLineBytes)}
	} else if err != nil {
		return nil, err
	}
	return t, nil
}

// addLine adds the token of one line of a tokens file, if it has one.
func (t *Tokens) addLine(line string) error {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return fmt.Errorf("has %d fields, want 3: <name> <token> <scope>[,<scope>...]", len(f))
	}
	name, token, scopes := f[0], f[1], f[2]
	switch {
	case !tokenName.MatchString(name):
		return errors.New("the name (first field) is not 1 to 64 of A-Z a-z 0-9 . _ @ -")
	case !bearerToken.MatchString(token):
		return errors.New("the token (second field) is not a bearer token: A-Z a-z 0-9 - . _ ~ + / then any =")
	case len(token) < MinTokenLength:
		return fmt.Errorf("the token (second field) is shorter than %d characters", MinTokenLength)
	}
	g, err := ParseScopes(name, strings.Split(scopes, ","))
	if err != nil {
		return fmt.Errorf("the scopes (third field): %w", err)
	}
	return t.Add(config.Secret(token), g)
}

// ReadTokensFile reads the tokens file at path (see ReadTokens).
func ReadTokensFile(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTokens(f)
}
