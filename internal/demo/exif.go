package demo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
)

// Camera is the EXIF a synthetic photo carries: a camera body and the place
// it was taken, so that "same camera" and "same place" links can be shown.
type Camera struct {
	Make, Model, Serial string
	Lat, Lon            float64
}

// WithEXIF inserts an EXIF segment (make, model, body serial number, GPS
// position) into a JPEG, right after its start-of-image marker.
func WithEXIF(jpeg []byte, c Camera) ([]byte, error) {
	if len(jpeg) < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
		return nil, errors.New("demo: not a JPEG")
	}
	tiff := buildTIFF(c)
	seg := make([]byte, 0, len(tiff)+10)
	seg = append(seg, 0xFF, 0xE1)
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+6+len(tiff)))
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	out := append([]byte{0xFF, 0xD8}, seg...)
	return append(out, jpeg[2:]...), nil
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte // the value bytes; placed inline when 4 bytes or fewer
}

const (
	tASCII    = 2
	tLong     = 4
	tRational = 5
)

func ascii(tag uint16, s string) ifdEntry {
	return ifdEntry{tag, tASCII, uint32(len(s) + 1), append([]byte(s), 0)}
}

func rationals(tag uint16, v float64) ifdEntry {
	v = math.Abs(v)
	d := math.Floor(v)
	m := math.Floor((v - d) * 60)
	s := ((v-d)*60 - m) * 60
	var b []byte
	for _, r := range [][2]uint32{{uint32(d), 1}, {uint32(m), 1}, {uint32(math.Round(s * 1000)), 1000}} {
		b = binary.BigEndian.AppendUint32(b, r[0])
		b = binary.BigEndian.AppendUint32(b, r[1])
	}
	return ifdEntry{tag, tRational, 3, b}
}

// buildTIFF lays out IFD0 -> Exif IFD and GPS IFD, big-endian.
func buildTIFF(c Camera) []byte {
	latRef, lonRef := "N", "E"
	if c.Lat < 0 {
		latRef = "S"
	}
	if c.Lon < 0 {
		lonRef = "W"
	}
	exif := []ifdEntry{ascii(0xA431, c.Serial)}
	gps := []ifdEntry{ascii(0x0001, latRef), rationals(0x0002, c.Lat), ascii(0x0003, lonRef), rationals(0x0004, c.Lon)}
	ifd0 := []ifdEntry{ascii(0x010F, c.Make), ascii(0x0110, c.Model), {0x8769, tLong, 1, nil}, {0x8825, tLong, 1, nil}}
	size := func(es []ifdEntry) int { return 2 + 12*len(es) + 4 }
	off0 := 8
	offExif := off0 + size(ifd0)
	offGPS := offExif + size(exif)
	data := offGPS + size(gps)
	ifd0[2].data = binary.BigEndian.AppendUint32(nil, uint32(offExif))
	ifd0[3].data = binary.BigEndian.AppendUint32(nil, uint32(offGPS))
	var head, tail bytes.Buffer
	head.WriteString("MM\x00\x2a")
	binary.Write(&head, binary.BigEndian, uint32(off0))
	write := func(es []ifdEntry) {
		binary.Write(&head, binary.BigEndian, uint16(len(es)))
		for _, e := range es {
			binary.Write(&head, binary.BigEndian, e.tag)
			binary.Write(&head, binary.BigEndian, e.typ)
			binary.Write(&head, binary.BigEndian, e.count)
			if len(e.data) <= 4 {
				v := make([]byte, 4)
				copy(v, e.data)
				head.Write(v)
				continue
			}
			binary.Write(&head, binary.BigEndian, uint32(data+tail.Len()))
			tail.Write(e.data)
			if tail.Len()%2 == 1 {
				tail.WriteByte(0)
			}
		}
		binary.Write(&head, binary.BigEndian, uint32(0))
	}
	write(ifd0)
	write(exif)
	write(gps)
	return append(head.Bytes(), tail.Bytes()...)
}
