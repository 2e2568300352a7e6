"""Fixed seed data of the simulator: Pemalang's places and a LAPOR!-like topic tree.

Topic ids are stable: the shipped mappings in `mappings/` name them, so a
change here is a change of the regency's routing.
"""

from __future__ import annotations

PEMALANG_INSTANSI_ID = 3327  # Kabupaten Pemalang (Kemendagri region code)
OTHER_INSTANSI_IDS = (
    3300,
    3326,
    3328,
    9001,
)  # Prov. Jawa Tengah, Kab. Pekalongan, Kab. Tegal, a ministry

# The 14 kecamatan of Pemalang Regency with some of their desa/kelurahan.
KECAMATAN: dict[str, tuple[str, ...]] = {
    "Moga": ("Moga", "Banyumudal", "Plakaran", "Walangsanga", "Sima"),
    "Warungpring": ("Warungpring", "Cibuyur", "Pakembaran", "Mereng"),
    "Pulosari": ("Pulosari", "Gunungsari", "Jurangmangu", "Karangsari", "Nyalembeng"),
    "Belik": ("Belik", "Beluk", "Gombong", "Kuta", "Sikasur"),
    "Watukumpul": ("Watukumpul", "Bodas", "Cikadu", "Tundagan", "Majakerta"),
    "Bodeh": ("Bodeh", "Jatingarang", "Kebandaran", "Muncang", "Pendowo"),
    "Bantarbolang": ("Bantarbolang", "Glandang", "Kebon Gede", "Sambeng", "Suru"),
    "Randudongkal": ("Randudongkal", "Kecepit", "Mangli", "Semaya", "Kalimas"),
    "Pemalang": ("Mulyoharjo", "Bojongbata", "Kebondalem", "Sugihwaras", "Widuri", "Pelutan"),
    "Taman": ("Taman", "Beji", "Sitemu", "Kabunan", "Banjaranyar"),
    "Petarukan": ("Petarukan", "Iser", "Kalirandu", "Serang", "Loning"),
    "Ampelgading": ("Ampelgading", "Banglarangan", "Cibiyuk", "Karangtalok", "Losari"),
    "Comal": ("Comal", "Purwoharjo", "Purwosari", "Sarwodadi", "Gandu"),
    "Ulujami": ("Ulujami", "Kaliprau", "Pesantren", "Mojo", "Limbangan"),
}

# (id, parent, name); parent 0 is a root. Ids are stable.
TOPICS: tuple[tuple[int, int, str], ...] = (
    (100, 0, "Infrastruktur"),
    (101, 100, "Jalan Rusak"),
    (102, 100, "Jembatan"),
    (103, 100, "Drainase dan Saluran Air"),
    (104, 100, "Penerangan Jalan Umum"),
    (105, 100, "Irigasi"),
    (200, 0, "Kesehatan"),
    (201, 200, "Pelayanan Puskesmas"),
    (202, 200, "Pelayanan Rumah Sakit"),
    (203, 200, "BPJS Kesehatan dan JKN"),
    (204, 200, "Stunting dan Gizi"),
    (300, 0, "Pendidikan dan Kebudayaan"),
    (301, 300, "PPDB"),
    (302, 300, "Sarana Sekolah"),
    (303, 300, "Beasiswa dan PIP"),
    (400, 0, "Administrasi Kependudukan"),
    (401, 400, "KTP Elektronik"),
    (402, 400, "Kartu Keluarga"),
    (403, 400, "Akta Kelahiran dan Kematian"),
    (500, 0, "Lingkungan Hidup dan Kebersihan"),
    (501, 500, "Sampah"),
    (502, 500, "Pencemaran"),
    (600, 0, "Sosial"),
    (601, 600, "Bantuan Sosial PKH dan BPNT"),
    (602, 600, "Data DTKS"),
    (700, 0, "Perhubungan"),
    (701, 700, "Parkir"),
    (702, 700, "Angkutan Umum"),
    (703, 700, "Rambu dan Lampu Lalu Lintas"),
    (800, 0, "Ketenteraman dan Ketertiban Umum"),
    (801, 800, "Pedagang Kaki Lima"),
    (802, 800, "Gangguan Ketertiban"),
    (900, 0, "Air Minum"),
    (901, 900, "Air PDAM Tidak Mengalir"),
    (902, 900, "Tagihan Air"),
    (1000, 0, "Bencana"),
    (1001, 1000, "Banjir"),
    (1002, 1000, "Tanah Longsor"),
    (1100, 0, "Komunikasi dan Informatika"),
    (1101, 1100, "Layanan Informasi Publik"),
    (1102, 1100, "Jaringan Internet Desa"),
    (1200, 0, "Topik Lainnya"),
)
