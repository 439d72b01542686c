package main

import (
	"io"

	"github.com/mmsgate/mmsgate/asf"
)

func asfOpen(r io.ReaderAt, size int64) (*asf.File, error) { return asf.OpenFile(r, size) }
