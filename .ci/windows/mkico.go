//go:build ignore

// mkico writes a Windows .ico of the app's icon for the installer, from
// the PNG that FyneApp.toml names: 16, 24, 32 and 48 px as 32-bit BMP
// images (which every Windows and NSIS read) and 256 px as PNG.
//
//	go run .ci/windows/mkico.go assets/Icon.png dist/ClinicVault.ico
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"os"

	"golang.org/x/image/draw"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkico ICON.png OUT.ico")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	src, err := png.Decode(f)
	if err != nil {
		fail(err)
	}
	sizes := []int{16, 24, 32, 48, 256}
	var images [][]byte
	for _, s := range sizes {
		dst := image.NewNRGBA(image.Rect(0, 0, s, s))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		if s == 256 {
			var b bytes.Buffer
			if err := png.Encode(&b, dst); err != nil {
				fail(err)
			}
			images = append(images, b.Bytes())
		} else {
			images = append(images, bmp(dst))
		}
	}
	var out bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&out, le, [3]uint16{0, 1, uint16(len(sizes))})
	offset := 6 + 16*len(sizes)
	for i, s := range sizes {
		dim := uint8(s)
		if s == 256 {
			dim = 0
		}
		out.Write([]byte{dim, dim, 0, 0})
		binary.Write(&out, le, [2]uint16{1, 32})
		binary.Write(&out, le, [2]uint32{uint32(len(images[i])), uint32(offset)})
		offset += len(images[i])
	}
	for _, b := range images {
		out.Write(b)
	}
	if err := os.WriteFile(os.Args[2], out.Bytes(), 0o644); err != nil {
		fail(err)
	}
}

// bmp is an icon image in the BMP form: a BITMAPINFOHEADER of twice the
// height, bottom-up BGRA rows, then an all-zero AND mask (the alpha
// channel decides).
func bmp(m *image.NRGBA) []byte {
	s := m.Bounds().Dx()
	var b bytes.Buffer
	le := binary.LittleEndian
	maskRow := ((s + 31) / 32) * 4
	binary.Write(&b, le, struct {
		Size                  uint32
		Width, Height         int32
		Planes, Bits          uint16
		Compression, ImgSize  uint32
		XPPM, YPPM            int32
		ClrUsed, ClrImportant uint32
	}{40, int32(s), int32(2 * s), 1, 32, 0, uint32(s*s*4 + maskRow*s), 0, 0, 0, 0})
	for y := s - 1; y >= 0; y-- {
		for x := 0; x < s; x++ {
			c := m.NRGBAAt(x, y)
			b.Write([]byte{c.B, c.G, c.R, c.A})
		}
	}
	b.Write(make([]byte, maskRow*s))
	return b.Bytes()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkico:", err)
	os.Exit(1)
}
