package codec_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/codec"
)

func TestRaw(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	str := string(all)
	empty := []byte{}
	emptyStr := ""
	cases := []struct {
		name      string
		in        any
		wantBytes []byte // into *[]byte
		wantStr   string // into *string
	}{
		{"all bytes", all, all, str},
		{"all bytes pointer", &all, all, str},
		{"all bytes string", str, all, str},
		{"all bytes string pointer", &str, all, str},
		// Raw cannot tell nil from empty: both come back as []byte{}.
		{"nil bytes", []byte(nil), []byte{}, ""},
		{"empty bytes", empty, []byte{}, ""},
		{"empty bytes pointer", &empty, []byte{}, ""},
		{"empty string", "", []byte{}, ""},
		{"empty string pointer", &emptyStr, []byte{}, ""},
		{"utf-8", "héllo, 世界", []byte("héllo, 世界"), "héllo, 世界"},
		{"invalid utf-8", "\xff\xfe", []byte{0xff, 0xfe}, "\xff\xfe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := codec.Raw.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantBytes, data); diff != "" {
				t.Errorf("Marshal (-want +got):\n%s", diff)
			}
			got := []byte("previous")
			if err := codec.Raw.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			// cmp.Diff tells a nil slice from an empty one.
			if diff := cmp.Diff(tc.wantBytes, got); diff != "" {
				t.Errorf("Unmarshal into *[]byte (-want +got):\n%s", diff)
			}
			s := "previous"
			if err := codec.Raw.Unmarshal(data, &s); err != nil {
				t.Fatal(err)
			}
			if s != tc.wantStr {
				t.Errorf("Unmarshal into *string = %q, want %q", s, tc.wantStr)
			}
		})
	}
}

func TestRawUnmarshalNilData(t *testing.T) {
	got := []byte("previous")
	if err := codec.Raw.Unmarshal(nil, &got); err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("Unmarshal(nil) into *[]byte = %#v, want []byte{}", got)
	}
}
