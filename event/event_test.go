package event

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEventJSONShape(t *testing.T) {
	var got []Event
	var f Func = func(e Event) { got = append(got, e) }
	f.Emit(Attempt, "udp", map[string]any{"transport": "udp"})
	var nilFunc Func
	nilFunc.Emit(Error, "ignored", nil) // must not panic
	if len(got) != 1 || got[0].Kind != Attempt || got[0].Time.IsZero() {
		t.Fatalf("got %+v", got)
	}
	b, err := json.Marshal(got[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"time"`, `"kind":"attempt"`, `"message":"udp"`, `"fields":{"transport":"udp"}`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
}
