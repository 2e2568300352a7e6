"""Realistic Indonesian report texts for Pemalang, by topic."""

from __future__ import annotations

import random

from .seed import KECAMATAN, TOPICS

TOPIC_PARENT: dict[int, int] = {tid: parent for tid, parent, _ in TOPICS}
LEAF_TOPICS: tuple[int, ...] = tuple(
    tid for tid, _, _ in TOPICS if not any(p == tid for _, p, _ in TOPICS)
)

# Approximate centre of each kecamatan (lat, lon).
KECAMATAN_LATLON: dict[str, tuple[float, float]] = {
    "Moga": (-7.085, 109.300),
    "Warungpring": (-7.060, 109.320),
    "Pulosari": (-7.160, 109.300),
    "Belik": (-7.150, 109.350),
    "Watukumpul": (-7.130, 109.440),
    "Bodeh": (-7.000, 109.490),
    "Bantarbolang": (-7.000, 109.380),
    "Randudongkal": (-7.060, 109.350),
    "Pemalang": (-6.890, 109.380),
    "Taman": (-6.910, 109.410),
    "Petarukan": (-6.900, 109.460),
    "Ampelgading": (-6.930, 109.520),
    "Comal": (-6.900, 109.530),
    "Ulujami": (-6.880, 109.590),
}

# The responding unit (OPD) of each root topic.
UNITS: dict[int, str] = {
    100: "Dinas Pekerjaan Umum dan Penataan Ruang",
    200: "Dinas Kesehatan",
    300: "Dinas Pendidikan dan Kebudayaan",
    400: "Dinas Kependudukan dan Pencatatan Sipil",
    500: "Dinas Lingkungan Hidup",
    600: "Dinas Sosial",
    700: "Dinas Perhubungan",
    800: "Satuan Polisi Pamong Praja",
    900: "Perumda Air Minum Tirta Mulia",
    1000: "Badan Penanggulangan Bencana Daerah",
    1100: "Dinas Komunikasi dan Informatika",
    1200: "Sekretariat Daerah",
}

JALAN = (
    "Jl. Jenderal Sudirman",
    "Jl. Ahmad Yani",
    "Jl. Gatot Subroto",
    "Jl. Diponegoro",
    "Jl. Pemuda",
    "Jl. Kartini",
    "Jl. Raya Comal-Pemalang",
    "Jl. Raya Randudongkal-Moga",
    "Jl. Raya Petarukan",
    "Jl. Slamet Riyadi",
    "Jl. Urip Sumoharjo",
    "Jl. Melati",
    "jalan desa",
    "jalan kabupaten",
)

FIRST_NAMES = (
    "Slamet",
    "Sri",
    "Budi",
    "Siti",
    "Agus",
    "Dwi",
    "Eko",
    "Nur",
    "Rina",
    "Wahyu",
    "Tri",
    "Joko",
    "Ani",
    "Bambang",
    "Fitri",
    "Heru",
    "Yuli",
    "Rizki",
    "Dewi",
    "Teguh",
    "Sugeng",
    "Lestari",
    "Ahmad",
    "Nining",
    "Imam",
    "Kurniawati",
    "Darsono",
    "Tarsih",
)
LAST_NAMES = (
    "Riyadi",
    "Wahyuni",
    "Santoso",
    "Rahayu",
    "Prasetyo",
    "Lestari",
    "Hidayat",
    "Susanti",
    "Saputra",
    "Utami",
    "Kurniawan",
    "Nugroho",
    "Handayani",
    "Setiawan",
    "",
    "",
    "",
)

# topic id -> (title, content) templates; {desa} {kec} {jalan} {n} {bulan} are filled in.
TEMPLATES: dict[int, tuple[tuple[str, str], ...]] = {
    101: (
        (
            "Jalan rusak parah di Desa {desa}",
            "Jalan di Desa {desa}, Kecamatan {kec} rusak parah dan berlubang sepanjang kurang lebih {n}00 meter. Saat hujan lubang tergenang air dan sudah beberapa pengendara motor jatuh. Mohon segera diperbaiki.",
        ),
        (
            "Lubang besar di {jalan} {kec}",
            "Di {jalan} dekat pertigaan arah Desa {desa} ada lubang besar yang membahayakan pengguna jalan, terutama malam hari karena tidak ada penerangan. Mohon ditambal sebelum ada korban.",
        ),
        (
            "Perbaikan jalan {desa} tidak kunjung selesai",
            "Proyek perbaikan jalan di Desa {desa} sudah berhenti sejak bulan {bulan}, material dibiarkan menumpuk di pinggir jalan dan debunya mengganggu warga. Mohon kejelasan kapan dilanjutkan.",
        ),
    ),
    102: (
        (
            "Jembatan penghubung Desa {desa} retak",
            "Jembatan penghubung Desa {desa} dengan desa tetangga di Kecamatan {kec} mengalami retak pada bagian pondasi dan pagar pengamannya sudah hilang. Anak-anak sekolah setiap hari melewatinya. Mohon dicek oleh dinas terkait.",
        ),
        (
            "Jembatan gantung {desa} putus",
            "Jembatan gantung di Desa {desa} putus setelah banjir minggu lalu sehingga warga harus memutar sejauh {n} km untuk ke pasar. Mohon dibangun kembali.",
        ),
    ),
    103: (
        (
            "Saluran air tersumbat di {desa}",
            "Saluran drainase di RT 0{n} Desa {desa} tersumbat sampah dan lumpur, setiap hujan air meluap ke rumah warga. Mohon dilakukan normalisasi saluran.",
        ),
        (
            "Gorong-gorong ambrol di {jalan}",
            "Gorong-gorong di {jalan} Kecamatan {kec} ambrol sehingga air tidak mengalir dan jalan amblas sebagian. Mohon segera ditangani.",
        ),
    ),
    104: (
        (
            "Lampu PJU mati di {jalan}",
            "Lampu penerangan jalan umum di {jalan} sekitar Desa {desa} sudah mati lebih dari {n} minggu. Jalan menjadi gelap dan rawan kejahatan. Mohon diperbaiki.",
        ),
        (
            "PJU rusak di Desa {desa}",
            "Sebanyak {n} titik lampu PJU di Desa {desa}, Kecamatan {kec} tidak menyala. Warga khawatir karena sering ada begal motor.",
        ),
    ),
    105: (
        (
            "Saluran irigasi kering di {desa}",
            "Saluran irigasi sawah di Desa {desa} tidak teraliri air sejak bulan {bulan} karena pintu air rusak. Petani terancam gagal tanam. Mohon perbaikan pintu air.",
        ),
        (
            "Tanggul irigasi jebol Kecamatan {kec}",
            "Tanggul saluran irigasi di dekat Desa {desa} jebol sepanjang {n} meter, air masuk ke pemukiman. Mohon ditangani dinas terkait.",
        ),
    ),
    201: (
        (
            "Antrean puskesmas {kec} terlalu lama",
            "Saya berobat di Puskesmas {kec} harus antre dari jam 7 pagi sampai jam 12 siang. Petugas pendaftaran hanya satu orang. Mohon pelayanan diperbaiki.",
        ),
        (
            "Dokter tidak ada di Puskesmas {kec}",
            "Sudah {n} kali saya datang ke Puskesmas {kec} pada jam layanan tetapi dokter tidak ada di tempat, hanya ada perawat. Mohon dievaluasi.",
        ),
    ),
    202: (
        (
            "Pelayanan IGD RSUD Dr. M. Ashari lambat",
            "Keluarga saya dibawa ke IGD RSUD Dr. M. Ashari Pemalang tetapi baru ditangani setelah {n} jam menunggu. Mohon pelayanan IGD dipercepat.",
        ),
        (
            "Pasien BPJS ditolak rumah sakit",
            "Ibu saya warga Desa {desa} peserta BPJS ditolak rawat inap dengan alasan kamar penuh, padahal kondisinya lemah. Mohon ditindaklanjuti.",
        ),
    ),
    203: (
        (
            "Kartu KIS tidak aktif",
            "Kartu KIS saya atas nama keluarga di Desa {desa} tiba-tiba tidak aktif saat berobat, padahal kami warga tidak mampu. Mohon diaktifkan kembali.",
        ),
        (
            "Iuran BPJS PBI dialihkan",
            "Kepesertaan BPJS PBI keluarga saya dialihkan menjadi mandiri tanpa pemberitahuan. Mohon penjelasan dan bantuan.",
        ),
    ),
    204: (
        (
            "Balita gizi buruk di Desa {desa}",
            "Di Desa {desa}, Kecamatan {kec} ada balita yang terlihat kurang gizi dan belum mendapat PMT dari posyandu. Mohon petugas gizi memeriksa.",
        ),
        (
            "Posyandu {desa} tidak aktif",
            "Posyandu di Desa {desa} sudah {n} bulan tidak ada kegiatan penimbangan balita. Mohon diaktifkan kembali untuk pencegahan stunting.",
        ),
    ),
    301: (
        (
            "Zonasi PPDB SMP tidak adil",
            "Anak saya tinggal di Desa {desa} yang jaraknya kurang dari 1 km dari SMP negeri tetapi tidak diterima di jalur zonasi. Mohon transparansi hasil PPDB.",
        ),
        (
            "Website PPDB Pemalang error",
            "Website PPDB tidak bisa diakses sejak pagi, padahal hari ini batas akhir pendaftaran. Mohon perpanjangan waktu.",
        ),
    ),
    302: (
        (
            "Atap SD di {desa} bocor",
            "Atap ruang kelas SD Negeri 0{n} {desa} bocor dan plafonnya hampir ambrol. Siswa terpaksa belajar di teras. Mohon rehab gedung sekolah.",
        ),
        (
            "Toilet sekolah rusak di Kecamatan {kec}",
            "Toilet di sekolah anak saya di Kecamatan {kec} rusak dan tidak ada air, siswa harus pulang ke rumah untuk buang air. Mohon diperbaiki.",
        ),
    ),
    303: (
        (
            "Dana PIP belum cair",
            "Anak saya siswa kelas {n} sudah terdaftar penerima PIP tetapi dananya belum cair sejak bulan {bulan}. Mohon informasi.",
        ),
        (
            "Pemotongan dana PIP oleh sekolah",
            "Ada pemotongan dana PIP oleh oknum sekolah di Kecamatan {kec} sebesar Rp{n}0.000 per siswa. Mohon diusut.",
        ),
    ),
    401: (
        (
            "KTP elektronik belum jadi",
            "Saya sudah rekam KTP-el di kantor Kecamatan {kec} sejak bulan {bulan} tetapi sampai sekarang belum jadi dengan alasan blangko habis. Mohon kepastian.",
        ),
        (
            "Antrean cetak KTP di Disdukcapil",
            "Antrean cetak KTP-el di Disdukcapil Pemalang sangat panjang, nomor antrean habis jam 8 pagi. Mohon ditambah layanan atau dibuka online.",
        ),
    ),
    402: (
        (
            "Perubahan KK lama diproses",
            "Pengajuan perubahan Kartu Keluarga saya di Desa {desa} sudah {n} minggu belum selesai. Mohon dipercepat karena untuk syarat sekolah anak.",
        ),
    ),
    403: (
        (
            "Akta kelahiran belum terbit",
            "Saya mengurus akta kelahiran anak melalui desa {desa} sejak bulan {bulan} tetapi belum terbit. Mohon informasi prosesnya.",
        ),
        (
            "Akta kematian untuk klaim",
            "Mohon informasi syarat penerbitan akta kematian untuk orang tua saya di Kecamatan {kec}, karena diperlukan untuk klaim.",
        ),
    ),
    501: (
        (
            "Tumpukan sampah di {jalan}",
            "Sampah menumpuk di pinggir {jalan} dekat Desa {desa} dan tidak diangkut lebih dari {n} hari, baunya menyengat dan mengundang lalat. Mohon diangkut.",
        ),
        (
            "TPS liar di Desa {desa}",
            "Ada tempat pembuangan sampah liar di Desa {desa}, Kecamatan {kec}, dekat aliran sungai. Mohon ditertibkan dan disediakan TPS resmi.",
        ),
    ),
    502: (
        (
            "Limbah pabrik cemari sungai di {kec}",
            "Air sungai di Kecamatan {kec} berubah warna dan berbau diduga dari limbah pabrik di dekat Desa {desa}. Ikan banyak yang mati. Mohon diperiksa DLH.",
        ),
        (
            "Asap pembakaran limbah",
            "Setiap malam ada pembakaran limbah di Desa {desa} yang asapnya masuk ke rumah warga dan membuat anak-anak batuk. Mohon ditindak.",
        ),
    ),
    601: (
        (
            "Bantuan PKH tidak diterima",
            "Saya terdaftar sebagai penerima PKH di Desa {desa} tetapi sejak bulan {bulan} bantuan tidak masuk ke rekening. Mohon dicek.",
        ),
        (
            "BPNT tidak tepat sasaran di {desa}",
            "Penerima BPNT di Desa {desa} banyak yang mampu, sementara warga miskin tidak mendapat. Mohon pendataan ulang.",
        ),
    ),
    602: (
        (
            "Tidak terdaftar di DTKS",
            "Keluarga saya di Desa {desa}, Kecamatan {kec} termasuk tidak mampu tetapi tidak terdaftar di DTKS sehingga tidak bisa mendapat bantuan. Mohon didaftarkan.",
        ),
    ),
    701: (
        (
            "Parkir liar di Alun-alun Pemalang",
            "Banyak juru parkir liar di sekitar Alun-alun Pemalang yang menarik tarif Rp{n}.000 tanpa karcis. Mohon ditertibkan.",
        ),
        (
            "Tarif parkir pasar tidak sesuai",
            "Tarif parkir motor di Pasar {kec} ditarik Rp{n}.000, tidak sesuai perda. Mohon ditertibkan.",
        ),
    ),
    702: (
        (
            "Angkutan pedesaan {kec} jarang",
            "Angkutan umum jurusan {kec}-Pemalang sekarang sangat jarang, anak sekolah kesulitan berangkat. Mohon ditambah armada.",
        ),
    ),
    703: (
        (
            "Lampu lalu lintas mati di simpang {jalan}",
            "Traffic light di simpang {jalan} Kecamatan {kec} mati sejak {n} hari lalu, lalu lintas semrawut dan rawan kecelakaan. Mohon diperbaiki.",
        ),
        (
            "Rambu dilarang parkir hilang",
            "Rambu lalu lintas di {jalan} dekat Desa {desa} hilang/roboh sehingga banyak kendaraan parkir sembarangan. Mohon dipasang kembali.",
        ),
    ),
    801: (
        (
            "PKL menutup trotoar di {jalan}",
            "Pedagang kaki lima berjualan di trotoar {jalan} sehingga pejalan kaki harus turun ke badan jalan. Mohon ditata.",
        ),
    ),
    802: (
        (
            "Balap liar di {jalan} setiap malam",
            "Setiap malam Minggu ada balap liar di {jalan} Kecamatan {kec} sampai dini hari, sangat mengganggu dan membahayakan. Mohon patroli.",
        ),
        (
            "Hiburan malam mengganggu warga {desa}",
            "Ada tempat karaoke di Desa {desa} yang buka sampai jam 2 pagi dengan suara keras. Mohon ditertibkan sesuai perda.",
        ),
    ),
    901: (
        (
            "Air PDAM tidak mengalir di {desa}",
            "Air PDAM di Desa {desa}, Kecamatan {kec} tidak mengalir sudah {n} hari, warga terpaksa membeli air galon. Mohon segera diperbaiki.",
        ),
        (
            "Air PDAM keruh",
            "Air PDAM di rumah saya di Desa {desa} keruh dan berbau sejak bulan {bulan}. Mohon diperiksa kualitas airnya.",
        ),
    ),
    902: (
        (
            "Tagihan PDAM melonjak",
            "Tagihan air PDAM saya bulan ini melonjak menjadi Rp{n}00.000 padahal pemakaian normal. Mohon dicek meteran air.",
        ),
    ),
    1001: (
        (
            "Banjir di Desa {desa}",
            "Desa {desa}, Kecamatan {kec} terendam banjir setinggi {n}0 cm sejak semalam. Warga membutuhkan bantuan logistik dan perahu evakuasi.",
        ),
        (
            "Banjir rob di Ulujami",
            "Banjir rob kembali merendam rumah warga di Desa {desa}. Mohon dibangun tanggul penahan rob.",
        ),
    ),
    1002: (
        (
            "Tanah longsor di {desa}",
            "Terjadi tanah longsor di Desa {desa}, Kecamatan {kec} yang menutup akses jalan dan mengancam {n} rumah warga. Mohon bantuan alat berat.",
        ),
    ),
    1101: (
        (
            "Informasi anggaran dana desa {desa}",
            "Mohon informasi penggunaan anggaran dana desa {desa} tahun ini karena papan informasi APBDes tidak dipasang.",
        ),
    ),
    1102: (
        (
            "Internet desa {desa} mati",
            "Jaringan internet di balai Desa {desa} mati sejak bulan {bulan} sehingga layanan administrasi online terganggu. Mohon diperbaiki.",
        ),
        (
            "Sinyal seluler lemah di {kec}",
            "Sinyal seluler di Desa {desa}, Kecamatan {kec} sangat lemah, siswa kesulitan belajar daring. Mohon dibangun BTS.",
        ),
    ),
    1200: (
        (
            "Pungutan liar di kantor desa {desa}",
            "Ada pungutan biaya Rp{n}0.000 untuk pengurusan surat pengantar di kantor Desa {desa}. Mohon ditindak.",
        ),
        (
            "Aspirasi warga {kec}",
            "Kami warga Kecamatan {kec} mengusulkan agar pelayanan di kantor kecamatan dibuka juga hari Sabtu untuk warga yang bekerja.",
        ),
    ),
}

_CHILD_TEMPLATES: dict[int | None, tuple[int, ...]] = {
    root: tuple(t for t in TEMPLATES if TOPIC_PARENT.get(t) == root)
    for root in set(TOPIC_PARENT.values())
}

BULAN = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)

SMS_PREFIXES = (
    "masbupsiaga",
    "masbupsiaga",
    "masbupsiaga",
    "MASBUPSIAGA",
    "Masbupsiaga",
    "MasBupSiaga",
)
HASHTAGS = ("#masbupsiaga", "#masbupsiaga", "#MasBupSiaga", "#MASBUPSIAGA")
TWEET_TAGS = (
    ["masbupsiaga"],
    ["masbupsiaga", "pemalang"],
    ["MasBupSiaga"],
    ["masbupsiaga2024", "lapor1708"],
    ["pemalang", "masbupsiaga"],
)

FOLLOWUP_DIPROSES = (
    "Terima kasih atas laporan Saudara. Laporan telah kami teruskan ke {unit} dan akan dilakukan pengecekan lapangan dalam waktu dekat.",
    "Laporan Saudara sudah kami terima dan saat ini sedang dalam proses penanganan oleh {unit}. Mohon kesediaannya menunggu.",
    "Tim {unit} telah melakukan survei ke lokasi. Penanganan dijadwalkan minggu depan sesuai ketersediaan anggaran.",
)
FOLLOWUP_SELESAI = (
    "Penanganan telah selesai dilaksanakan oleh {unit}. Terima kasih atas partisipasi Saudara dalam pembangunan Kabupaten Pemalang.",
    "Permasalahan telah diselesaikan. Dokumentasi hasil penanganan terlampir. Apabila masih ada kendala silakan sampaikan kembali.",
    "{unit} telah menindaklanjuti laporan ini dan permasalahan dinyatakan selesai.",
)
REPLIES_PELAPOR = (
    "Terima kasih, tapi sampai hari ini belum ada petugas yang datang ke lokasi.",
    "Sudah diperbaiki, terima kasih banyak atas respon cepatnya.",
    "Mohon dipercepat pak, kondisinya semakin parah.",
    "Perbaikannya hanya sebagian, masih ada yang rusak.",
    "Baik, saya tunggu tindak lanjutnya.",
)
NOTES_ADMIN = (
    "Laporan telah diverifikasi oleh Admin Nasional SP4N-LAPOR! dan diteruskan kepada instansi berwenang.",
    "Mohon instansi memberikan tindak lanjut yang lebih rinci sesuai standar pelayanan.",
    "Admin: pelapor telah dihubungi untuk melengkapi informasi lokasi.",
)

EDIT_SUFFIXES = (
    " Tambahan: kondisi semakin parah setelah hujan kemarin.",
    " Update: warga sudah swadaya menutup sebagian, tetapi belum permanen.",
    " (lokasi tepatnya dekat masjid desa)",
)


def unit_for(topic_id: int | None) -> str:
    if topic_id is None:
        return UNITS[1200]
    root = topic_id
    while TOPIC_PARENT.get(root, 0) != 0:
        root = TOPIC_PARENT[root]
    return UNITS.get(root, UNITS[1200])


def person(rng: random.Random) -> str:
    last = rng.choice(LAST_NAMES)
    first = rng.choice(FIRST_NAMES)
    return f"{first} {last}".strip()


def place(rng: random.Random) -> tuple[str, str]:
    kec = rng.choice(tuple(KECAMATAN))
    return kec, rng.choice(KECAMATAN[kec])


def report_text(rng: random.Random, topic_id: int | None, kec: str, desa: str) -> tuple[str, str]:
    """A (title, content) pair about the topic, set in the given place."""
    if topic_id in TEMPLATES:
        key = topic_id
    else:  # a root topic speaks like one of its children; no topic like any
        children = _CHILD_TEMPLATES.get(topic_id) or tuple(TEMPLATES)
        key = rng.choice(children)
    title, content = rng.choice(TEMPLATES[key])
    values = {
        "desa": desa,
        "kec": kec,
        "jalan": rng.choice(JALAN),
        "n": rng.randint(2, 9),
        "bulan": rng.choice(BULAN),
    }
    return title.format(**values), content.format(**values)


def sms_text(rng: random.Random, content: str, programme: bool) -> str:
    """An SMS 1708 message: short, lower case, the programme keyword first."""
    words = content.split()
    text = " ".join(words[: rng.randint(12, 24)]).lower().rstrip(".,")
    if programme:
        sep = rng.choice((" ", " ", " ", "  "))
        return f"{rng.choice(SMS_PREFIXES)}{sep}{text}"
    return text


def tweet_text(rng: random.Random, content: str, programme: bool) -> str:
    words = content.split()
    text = " ".join(words[: rng.randint(14, 28)]).rstrip(".,")
    tags = f" {rng.choice(HASHTAGS)} #pemalang" if programme else " #pemalang"
    return f"@LAPOR1708 {text}{tags}"
