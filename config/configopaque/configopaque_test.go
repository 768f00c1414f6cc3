package configopaque

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const secret = "hunter2-very-secret"

type holder struct {
	Password String `json:"password" yaml:"password"`
}

func TestRedactsEverywhere(t *testing.T) {
	s := String(secret)
	h := holder{Password: s}
	outs := map[string]string{}
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s"} {
		outs["fmt "+verb] = fmt.Sprintf(verb, s)
		outs["fmt struct "+verb] = fmt.Sprintf(verb, h)
	}
	outs["fmt pointer"] = fmt.Sprintf("%v", &h)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outs["json"] = string(js)
	ys, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outs["yaml"] = string(ys)
	txt, _ := s.MarshalText()
	outs["text"] = string(txt)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "pw", s, "h", h)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "pw", s, "h", h)
	outs["slog"] = buf.String()

	for name, out := range outs {
		if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, Redacted) && !strings.Contains(out, fmt.Sprintf("%q", Redacted)) {
			t.Errorf("%s does not show %s: %s", name, Redacted, out)
		}
	}
	if got := string(s); got != secret {
		t.Fatalf("explicit conversion = %q", got)
	}
}

func TestUnmarshalKeepsValue(t *testing.T) {
	var h holder
	if err := yaml.Unmarshal([]byte("password: "+secret+"\n"), &h); err != nil {
		t.Fatal(err)
	}
	if string(h.Password) != secret {
		t.Fatalf("yaml decode = %q", string(h.Password))
	}
	h = holder{}
	if err := json.Unmarshal([]byte(`{"password":"`+secret+`"}`), &h); err != nil {
		t.Fatal(err)
	}
	if string(h.Password) != secret || !h.Password.IsSet() {
		t.Fatalf("json decode = %q", string(h.Password))
	}
}
