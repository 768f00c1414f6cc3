package tiffpdf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const faxDir = "../../../../testdata/fax"

func readFile(t *testing.T, path string) (*File, *os.File) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Read(fh, st.Size(), filepath.Base(path))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return f, fh
}

type tiffCase struct {
	file        string
	pages       int
	compression int
	t4          uint32
	fill        int
	strips      int
	xdpi, ydpi  float64
	photometric int
}

var cases = []tiffCase{
	{"g4-fine-1p.tif", 1, 4, 0, 1, 1, 204, 196, 0},
	{"g4-fine-3p.tif", 3, 4, 0, 1, 1, 204, 196, 0},
	{"g4-strips-1p.tif", 1, 4, 0, 1, 8, 204, 196, 0},
	{"g4-minisblack-1p.tif", 1, 4, 0, 1, 1, 204, 98, 1},
	{"g3-1d-normal-3p.tif", 3, 3, 0, 1, 1, 204, 98, 0},
	{"g3-2d-fine-3p.tif", 3, 3, T4Option2D | T4OptionFillBits, 1, 1, 204, 196, 0},
	{"g3-2d-lsb-strips-1p.tif", 1, 3, T4Option2D, 2, 4, 204, 98, 0},
	{"none-normal-1p.tif", 1, 1, 0, 1, 1, 204, 98, 0},
	{"g4-bigendian-normal-1p.tif", 1, 4, 0, 1, 1, 204, 98, 0},
	{"hylafax/recvq/fax000000042.tif", 2, 3, T4Option2D | T4OptionFillBits, 1, 1, 204, 196, 0},
}

func TestReadStructure(t *testing.T) {
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, _ := readFile(t, filepath.Join(faxDir, c.file))
			if len(f.Pages) != c.pages {
				t.Fatalf("pages = %d, want %d", len(f.Pages), c.pages)
			}
			for _, p := range f.Pages {
				if p.Width != 1728 {
					t.Errorf("page %d width %d", p.Index, p.Width)
				}
				if p.Compression != c.compression || p.T4Options != c.t4 || p.FillOrder != c.fill || p.Photometric != c.photometric {
					t.Errorf("page %d: compression %d t4 %#x fill %d photometric %d", p.Index, p.Compression, p.T4Options, p.FillOrder, p.Photometric)
				}
				if len(p.StripOffsets) != c.strips {
					t.Errorf("page %d: %d strips, want %d", p.Index, len(p.StripOffsets), c.strips)
				}
				if x, y := p.DPI(); x != c.xdpi || y != c.ydpi {
					t.Errorf("page %d: dpi %vx%v", p.Index, x, y)
				}
			}
		})
	}
}

func TestReadHylaFAXTags(t *testing.T) {
	f, _ := readFile(t, filepath.Join(faxDir, "hylafax/recvq/fax000000042.tif"))
	p := f.Pages[0]
	if p.TSI() != "+1 555 0100" {
		t.Errorf("TSI = %q", p.TSI())
	}
	if got := p.CallID(); len(got) != 2 || got[0] != "CIDNumber\t5550100" || got[1] != "CIDName\tTEST CLINIC" {
		t.Errorf("CallID = %q", got)
	}
	if p.Make != "USRobotics" || p.Model != "Courier V.Everything" || p.DateTime != "2026:11:20 14:03:07" {
		t.Errorf("make/model/datetime = %q %q %q", p.Make, p.Model, p.DateTime)
	}
	if p.FaxRecvParams != 4199434 || p.FaxRecvTime != 41 || p.FaxSubAddress != "201" {
		t.Errorf("fax tags = %d %d %q", p.FaxRecvParams, p.FaxRecvTime, p.FaxSubAddress)
	}
}

func TestReadErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(faxDir, "g4-fine-1p.tif"))
	if err != nil {
		t.Fatal(err)
	}
	// Locate the Compression entry of the first IFD and corrupt it.
	ifd := int(good[4]) | int(good[5])<<8 | int(good[6])<<16 | int(good[7])<<24
	n := int(good[ifd]) | int(good[ifd+1])<<8
	withTag := func(tag int, val uint16) []byte {
		b := bytes.Clone(good)
		for i := 0; i < n; i++ {
			e := ifd + 2 + 12*i
			if int(b[e])|int(b[e+1])<<8 == tag {
				b[e+8], b[e+9] = byte(val), byte(val>>8)
				return b
			}
		}
		t.Fatalf("tag %d not found", tag)
		return nil
	}
	tests := []struct {
		name string
		data []byte
		want string
		is   error
	}{
		{"empty", nil, "tiff x.tif: read header", ErrNotTIFF},
		{"pdf", []byte("%PDF-1.4\n..."), "tiff x.tif: not a tiff file", ErrNotTIFF},
		{"lzw", withTag(TagCompression, 5), "tiff x.tif: page 1: tag Compression (259): compression 5: unsupported", ErrUnsupported},
		{"fillorder", withTag(TagFillOrder, 3), "tiff x.tif: page 1: tag FillOrder (266): fill order 3", nil},
		{"truncated", good[:len(good)/2], "tiff x.tif: page 1", nil},
		{"loop", func() []byte {
			b := bytes.Clone(good)
			next := ifd + 2 + 12*n
			b[next], b[next+1], b[next+2], b[next+3] = good[4], good[5], good[6], good[7]
			return b
		}(), "tiff x.tif: page 2: directory chain loops", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.data), int64(len(tc.data)), "x.tif")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want prefix %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

func TestPDFSizeAndDeterminism(t *testing.T) {
	for _, c := range cases {
		f, fh := readFile(t, filepath.Join(faxDir, c.file))
		var a, b bytes.Buffer
		n, err := WritePDF(&a, fh, f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WritePDF(&b, fh, f); err != nil {
			t.Fatal(err)
		}
		if n != int64(a.Len()) || PDFSize(f) != n {
			t.Errorf("%s: n=%d len=%d PDFSize=%d", c.file, n, a.Len(), PDFSize(f))
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: output differs between runs", c.file)
		}
		checkXref(t, c.file, a.Bytes())
	}
}

// checkXref verifies every xref offset points at its "N 0 obj" line.
func checkXref(t *testing.T, name string, pdf []byte) {
	t.Helper()
	sx := bytes.LastIndex(pdf, []byte("startxref\n"))
	if sx < 0 {
		t.Fatalf("%s: no startxref", name)
	}
	var xref int
	fmt.Sscanf(string(pdf[sx+10:]), "%d", &xref)
	if !bytes.HasPrefix(pdf[xref:], []byte("xref\n0 ")) {
		t.Fatalf("%s: startxref %d does not point at xref", name, xref)
	}
	lines := strings.Split(string(pdf[xref:]), "\n")
	count, _ := strconv.Atoi(strings.Fields(lines[1])[1])
	for i := 1; i < count; i++ {
		line := lines[2+i]
		if len(line)+1 != 20 {
			t.Errorf("%s: xref entry %d is %d bytes", name, i, len(line)+1)
		}
		off, _ := strconv.Atoi(line[:10])
		if want := fmt.Sprintf("%d 0 obj\n", i); !bytes.HasPrefix(pdf[off:], []byte(want)) {
			t.Errorf("%s: object %d offset %d points at %q", name, i, off, pdf[off:off+10])
		}
	}
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install poppler-utils libtiff-tools)", tool)
		}
	}
}

// TestPDFRendersLikeLibtiff renders each PDF with poppler at the TIFF's own
// resolution and compares every pixel with libtiff's decoding of the TIFF
// (tiffcp -c none, read back with this package).
func TestPDFRendersLikeLibtiff(t *testing.T) {
	need(t, "pdfinfo", "pdftoppm", "tiffcp")
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			dir := t.TempDir()
			f, fh := readFile(t, filepath.Join(faxDir, c.file))
			pdfPath := filepath.Join(dir, "out.pdf")
			out, err := os.Create(pdfPath)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := WritePDF(out, fh, f); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}

			info, err := exec.Command("pdfinfo", "-f", "1", "-l", "99", pdfPath).CombinedOutput()
			if err != nil {
				t.Fatalf("pdfinfo: %v\n%s", err, info)
			}
			if m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info); m == nil || string(m[1]) != strconv.Itoa(c.pages) {
				t.Fatalf("pdfinfo pages: %s", info)
			}
			if bytes.Contains(info, []byte("Syntax Error")) || bytes.Contains(info, []byte("Syntax Warning")) {
				t.Errorf("pdfinfo complains:\n%s", info)
			}
			// 1728 px at 204 dpi = 609.88 pt; 2200 rows at 196 dpi = 808.16 pt.
			wantW := 1728 * 72 / c.xdpi
			for i, p := range f.Pages {
				re := regexp.MustCompile(fmt.Sprintf(`(?m)^Page\s+%d size:\s+([\d.]+) x ([\d.]+) pts`, i+1))
				m := re.FindSubmatch(info)
				if m == nil {
					t.Fatalf("no size for page %d:\n%s", i+1, info)
				}
				w, _ := strconv.ParseFloat(string(m[1]), 64)
				h, _ := strconv.ParseFloat(string(m[2]), 64)
				if math.Abs(w-wantW) > 0.01 || math.Abs(h-float64(p.Height)*72/c.ydpi) > 0.01 {
					t.Errorf("page %d size %vx%v pt", i+1, w, h)
				}
			}

			ref := filepath.Join(dir, "ref.tif")
			if out, err := exec.Command("tiffcp", "-c", "none", "-f", "msb2lsb", filepath.Join(faxDir, c.file), ref).CombinedOutput(); err != nil {
				t.Fatalf("tiffcp: %v\n%s", err, out)
			}
			rf, rfh := readFile(t, ref)
			for i, p := range f.Pages {
				prefix := filepath.Join(dir, fmt.Sprintf("p%d", i+1))
				cmd := exec.Command("pdftoppm", "-gray", "-aa", "no", "-aaVector", "no",
					"-scale-to-x", strconv.Itoa(p.Width), "-scale-to-y", strconv.Itoa(p.Height), "-f", strconv.Itoa(i+1), "-l", strconv.Itoa(i+1), "-singlefile", pdfPath, prefix)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("pdftoppm: %v\n%s", err, out)
				}
				w, h, px := readPGM(t, prefix+".pgm")
				if w != p.Width || h != p.Height {
					t.Fatalf("page %d rendered %dx%d, want %dx%d", i+1, w, h, p.Width, p.Height)
				}
				want := rawBlack(t, rf.Pages[i], rfh)
				var diff, black int
				for j := range px {
					isBlack := px[j] < 128
					if isBlack {
						black++
					}
					if isBlack != want[j] {
						diff++
					}
				}
				if black == 0 || black > len(px)/4 {
					t.Errorf("page %d: %d of %d pixels black", i+1, black, len(px))
				}
				if diff > len(px)/1000 {
					t.Errorf("page %d: %d of %d pixels differ from libtiff's decoding", i+1, diff, len(px))
				}
			}
		})
	}
}

func readPGM(t *testing.T, path string) (w, h int, px []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var maxv int
	if _, err := fmt.Sscanf(string(b), "P5\n%d %d\n%d\n", &w, &h, &maxv); err != nil {
		t.Fatalf("pgm header: %v", err)
	}
	hdr := len(b) - w*h
	return w, h, b[hdr:]
}

// rawBlack reads an uncompressed page and says which pixels are black.
func rawBlack(t *testing.T, p *Page, fh *os.File) []bool {
	t.Helper()
	if p.Compression != CompressionNone || p.FillOrder != 1 {
		t.Fatalf("reference page is compression %d fill %d", p.Compression, p.FillOrder)
	}
	stride := (p.Width + 7) / 8
	var data []byte
	for s, off := range p.StripOffsets {
		b := make([]byte, p.StripByteCounts[s])
		if _, err := fh.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	if len(data) < stride*p.Height {
		t.Fatalf("reference has %d bytes, want %d", len(data), stride*p.Height)
	}
	out := make([]bool, p.Width*p.Height)
	for y := 0; y < p.Height; y++ {
		for x := 0; x < p.Width; x++ {
			bit := data[y*stride+x/8]>>(7-x%8)&1 == 1
			out[y*p.Width+x] = bit == (p.Photometric == 0)
		}
	}
	return out
}

// FuzzRead feeds mutated fax TIFFs to Read and WritePDF: no panics, and a
// file that parses converts to a PDF of exactly PDFSize bytes.
func FuzzRead(f *testing.F) {
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(faxDir, c.file))
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.tif")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		n, err := WritePDF(&buf, bytes.NewReader(data), tf)
		if err != nil {
			t.Fatalf("parsed file fails to convert: %v", err)
		}
		if n != PDFSize(tf) || n != int64(buf.Len()) {
			t.Fatalf("size %d, PDFSize %d, written %d", n, PDFSize(tf), buf.Len())
		}
	})
}
