package urlrule_test

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/internal/urlrule"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		raw  string
		rule urlrule.Rule
		want error
	}{
		{"https://auth.example.com/jwks", urlrule.Rule{}, nil},
		{"HTTPS://auth.example.com/jwks", urlrule.Rule{}, nil},
		{"http://127.0.0.1:9000/jwks", urlrule.Rule{}, nil},
		{"http://127.8.9.10/jwks", urlrule.Rule{}, nil},
		{"http://[::1]:9000/jwks", urlrule.Rule{}, nil},
		{"http://LOCALHOST/jwks", urlrule.Rule{}, nil},
		{"http://auth.example.com/jwks", urlrule.Rule{}, urlrule.ErrInsecureHTTP},
		{"http://10.0.0.1/jwks", urlrule.Rule{}, urlrule.ErrInsecureHTTP},
		{"http://127.0.0.1.example.com/jwks", urlrule.Rule{}, urlrule.ErrInsecureHTTP},
		{"http://auth.example.com/jwks", urlrule.Rule{AllowInsecureHTTP: true}, nil},
		{"ftp://auth.example.com/jwks", urlrule.Rule{}, urlrule.ErrScheme},
		{"file:///etc/passwd", urlrule.Rule{}, urlrule.ErrNoHost},
		{"/relative", urlrule.Rule{}, urlrule.ErrNoHost},
		{"https://u:p@auth.example.com/", urlrule.Rule{}, urlrule.ErrPassword},
		{"https://u@auth.example.com/", urlrule.Rule{}, nil},
		{"https://u@auth.example.com/", urlrule.Rule{NoUserinfo: true}, urlrule.ErrUserinfo},
		{"https://[::1", urlrule.Rule{}, urlrule.ErrMalformed},
		{"https://:443/", urlrule.Rule{}, urlrule.ErrNoHost},
	}
	for _, tt := range tests {
		if _, err := tt.rule.Check(tt.raw); !errors.Is(err, tt.want) {
			t.Errorf("%+v.Check(%q) = %v, want %v", tt.rule, tt.raw, err, tt.want)
		}
	}
}
