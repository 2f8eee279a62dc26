package conn

// SlotCount is the number of hash slots of a Redis Cluster.
const SlotCount = 16384

// crc16tab is the CRC16-XMODEM table (polynomial 0x1021, initial value 0)
// that Redis Cluster hashes keys with.
var crc16tab = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
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

// Slot returns the Redis Cluster hash slot of key, as the Cluster
// specification defines it: CRC16 of the key modulo 16384, where only the
// part between the first '{' and the next '}' is hashed when that part is
// not empty (a hash tag), so that related keys can share a slot. Drivers
// use it to split multi-key calls per slot.
func Slot(key string) uint16 {
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
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^key[i]]
	}
	return crc % SlotCount
}
