package web

// terms is ivid's terminology table: the discouraged terms of the
// Luxembourg Guidelines with the recommended ones (PRODUCT.md). It is the
// only place they are written; the page script warns as they are typed.
var terms = []struct{ Avoid, Use string }{
	{"child pornography", "child sexual abuse material"},
	{"pornographie mettant en scène des enfants", "matériel d'abus sexuels d'enfants"},
	{"pédopornographie", "matériel d'abus sexuels d'enfants"},
	{"child sex tourism", "sexual exploitation of children in the context of travel and tourism"},
	{"tourisme sexuel impliquant des enfants", "exploitation sexuelle des enfants dans le cadre des voyages et du tourisme"},
	{"child sex tourist", "travelling child sex offender"},
	{"touriste sexuel", "auteur itinérant d'infractions sexuelles à l'encontre des enfants"},
	{"child prostitution", "exploitation of children in prostitution"},
	{"prostitution enfantine", "exploitation des enfants à des fins de prostitution"},
	{"child prostitute", "child victim of sexual exploitation"},
	{"child sex worker", "child victim of sexual exploitation"},
	{"enfant prostitué", "victime d'exploitation sexuelle"},
	{"webcam child sex tourism", "live online child sexual abuse"},
}
