package radix

// numSlots is the number of hash slots of a Redis Cluster.
const numSlots = 16384

// crcTable is the lookup table of CRC16-CCITT (XMODEM: polynomial 0x1021,
// initial value 0), the checksum Redis Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// slot returns the Redis Cluster hash slot of key, honouring hash tags: when
// key holds a "{...}" with at least one byte between the first "{" and the
// next "}", only those bytes are hashed, so "{user1}.a" and "{user1}.b" land
// in the same slot.
//
// radix exports the same function as ClusterSlot, but over a []byte: taking
// the key as a string saves the conversion (an allocation for keys longer
// than 32 bytes) on every routed call.
func slot(key string) uint16 {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				break
			}
		}
		break
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^key[i]]
	}
	return crc % numSlots
}
