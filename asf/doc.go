// Package asf reads and writes the Advanced Systems Format, the container
// that every MMS stream carries, following Microsoft's ASF specification
// (rev. 01.20.03); section numbers in comments refer to it unless they name
// MS-MMSP.
//
//   - ParseHeader: the Header Object with typed views of its children and a
//     byte-exact Marshal.
//   - Packet.Unmarshal: data packets (5.2) parsed into slices of the packet,
//     without allocating.
//   - StripPadding and RestorePadding: the padding rewrite of MS-MMSP 2.2.2.
//   - Reassembler: media objects from payload fragments, per stream.
//   - OpenFile: random access to the packets of a file, with its indexes.
//   - Writer: files with the objects multi-bit-rate content needs.
//   - Header.SelectStreams, CheckStreams, StreamsBitrate: the streams to ask
//     an MMS or MMSH server for, by bandwidth and language.
//
// Times: Payload.PresentationTime and MediaObject.PresentationTime are in
// milliseconds as carried in the file, i.e. they include the preroll of File
// Properties. FFmpeg reports pts = PresentationTime - Preroll.
package asf
