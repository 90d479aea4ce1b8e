package engine

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Target is a parsed target URL: sqlite:PATH, sqlite:///abs/path or
// postgres://user[:pass]@host:port/db?sslmode=...
type Target struct {
	Dialect string   // "sqlite" or "postgres"
	Path    string   // SQLite: absolute file path
	URL     *url.URL // PostgreSQL: the URL without its password
	// Password comes from the URL, the keyring, LIFEBELT_PASSWORD or a
	// prompt. It is never written anywhere.
	Password string
}

// ParseTarget parses a target URL. Errors are one sentence for the user.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		if strings.HasPrefix(p, "//") {
			p = strings.TrimPrefix(p, "//")
			if !strings.HasPrefix(p, "/") {
				return Target{}, fmt.Errorf("target %q: sqlite:// must be followed by an absolute path, as in sqlite:///var/db/app.db", s)
			}
		}
		if p == "" {
			return Target{}, fmt.Errorf("target %q names no file; write sqlite:PATH", s)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return Target{}, fmt.Errorf("target %q: %v", s, err)
		}
		return Target{Dialect: "sqlite", Path: abs}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			return Target{}, fmt.Errorf("target is not a valid PostgreSQL URL: %v", redactErr(err))
		}
		t := Target{Dialect: "postgres"}
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				t.Password = p
				u.User = url.User(u.User.Username())
			}
		}
		q := u.Query()
		if p := q.Get("password"); p != "" {
			t.Password = p
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		if strings.Trim(u.Path, "/") == "" {
			return Target{}, fmt.Errorf("target %s names no database; add /DBNAME after the host", u.Redacted())
		}
		t.URL = u
		return t, nil
	}
	return Target{}, fmt.Errorf("target %q is not a URL Lifebelt knows; use sqlite:PATH or postgres://user@host:port/db", redactURL(s))
}

// Database is the database name (PostgreSQL) or file path (SQLite).
func (t Target) Database() string {
	if t.Dialect == "sqlite" {
		return t.Path
	}
	if t.URL != nil {
		return strings.Trim(t.URL.Path, "/")
	}
	return ""
}

// String is the target without any password, safe to log and journal.
func (t Target) String() string {
	switch t.Dialect {
	case "sqlite":
		return "sqlite:" + t.Path
	case "postgres":
		if t.URL != nil {
			return t.URL.String()
		}
	}
	return ""
}

// ConnString is the full connection string including the password; hand it
// only to a driver.
func (t Target) ConnString() string {
	if t.Dialect != "postgres" || t.URL == nil {
		return t.String()
	}
	u := *t.URL
	if t.Password != "" {
		name := ""
		if u.User != nil {
			name = u.User.Username()
		}
		u.User = url.UserPassword(name, t.Password)
	}
	return u.String()
}

// User is the login user named in the URL, if any.
func (t Target) User() string {
	if t.URL != nil && t.URL.User != nil {
		return t.URL.User.Username()
	}
	return ""
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// redactErr drops the URL (which may hold a password) from a parse error.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed URL"
}
